/**
 * Digest authentication headers (src/signaling/auth/digest.ts, digest-server.ts, digest-client.ts): what a browser
 * sends in Authorization and what a trunk sends in WWW-/Proxy-Authenticate. Seeds are real credentials for live
 * nonces of the server under test (so mutations reach nonce, response and nonce-count checks) and challenges in
 * the shapes JsSIP, Asterisk and Kamailio write. parseAuthHeader may throw only SipParseError; DigestServer.verify
 * and selectChallenge never throw; a credential the client builds from any challenge it accepts must parse again.
 */
import { SipParseError } from '../../../src/signaling/parse-error.ts';
import { computeHa1, parseAuthHeader } from '../../../src/signaling/auth/digest.ts';
import { DigestServer, type Ha1Lookup } from '../../../src/signaling/auth/digest-server.ts';
import { DigestClient, selectChallenge } from '../../../src/signaling/auth/digest-client.ts';
import { bearerToken } from '../../../src/signaling/auth/token.ts';
import { FuzzFailure, runFuzzLoop, type FuzzStats } from '../harness.ts';
import { LineMutator, type TextCase } from '../mutators.ts';

const REALM = 'gw.test';
const lookup: Ha1Lookup = (user, realm, algorithm) => (user === 'alice' ? computeHa1(algorithm, user, realm, 'wonderland') : undefined);

function seeds(server: DigestServer): string[] {
  const out: string[] = [];
  for (const challenge of server.challenges()) {
    out.push(challenge);
    const chosen = selectChallenge([challenge])!;
    for (const user of ['alice', 'mallory']) {
      out.push(new DigestClient({ username: user, password: 'wonderland' }).authorize(chosen, 'REGISTER', `sip:${REALM}`));
      out.push(new DigestClient({ username: user, password: 'wonderland' }).authorize(chosen, 'INVITE', `sip:echo@${REALM}`, Buffer.from('v=0\r\n')));
    }
  }
  out.push(
    // JsSIP 3.x's order and quoting (DigestAuthentication.js toString), and RFC 2069 without qop.
    `Digest algorithm=MD5, username="alice", realm="${REALM}", nonce="${server.createNonce()}", uri="sip:${REALM}", response="6629fae49393a05397450978507c4ef1", qop=auth, cnonce="0a4f113b", nc=00000001`,
    `Digest username="alice", realm="${REALM}", nonce="${server.createNonce()}", uri="sip:${REALM}", response="00000000000000000000000000000000"`,
    `Digest username="alice", realm="other.realm", nonce="x", uri="sip:x", response="0", opaque="5ccc069c403ebaf9f0171e9517f40e41", algorithm=SHA-256-sess`,
    // Asterisk / Kamailio challenges, and a Bearer credential.
    'Digest realm="asterisk",nonce="1700000000/9a3e0b7f2c1d4e5f",opaque="3a4b5c6d7e8f",algorithm=md5,qop="auth"',
    'Digest realm="sip.carrier.example", nonce="ZXhhbXBsZW5vbmNl", qop="auth,auth-int", algorithm=MD5, stale=TRUE',
    'Digest realm="sip.carrier.example", domain="sip:carrier.example", nonce="a", algorithm=SHA-256, qop="auth", userhash=false',
    'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl',
  );
  return out;
}

const TOKENS = ['Digest', 'Basic', 'Bearer', 'realm=', 'nonce=', 'uri=', 'response=', 'qop=', 'nc=', 'cnonce=', 'algorithm=', 'opaque=',
  'stale=', 'username=', '"', '\\"', '\\', ',', '=', 'auth', 'auth-int', 'MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess', 'SHA-512-256', REALM,
  '00000001', 'ffffffff', '100000000', '.', '..'];

export function runDigestFuzz(options: { iterations: number; seed: number }): FuzzStats {
  const server = new DigestServer({ realm: REALM });
  // Parameters are the "lines" of an authentication header.
  const m = new LineMutator(seeds(server), options.seed, { tokens: TOKENS, eol: ', ', hugeSizes: [64, 1024, 9000] });
  const random = m.random;
  /** A valid credential for a live nonce (nc=00000001, so it is accepted once). */
  const fresh = (): string => new DigestClient({ username: 'alice', password: 'wonderland' }).authorize(selectChallenge(server.challenges())!, 'REGISTER', `sip:${REALM}`);
  return runFuzzLoop<TextCase>({
    target: 'digest',
    ...options,
    next: () => m.next(),
    check: (c) => {
      let parsed = 'parsed';
      try {
        parseAuthHeader(c.input);
      } catch (error) {
        if (!(error instanceof SipParseError)) throw error;
        if (/[\r\n]/.test(error.message)) throw new FuzzFailure('SipParseError message with a line break');
        parsed = 'SipParseError';
      }
      // Several credentials in one request (RFC 3261 §22.3), the mutated one among real ones.
      const values = random.chance(0.2) ? [c.input, fresh()] : [c.input];
      const verdict = server.verify(random.chance(0.5) ? 'REGISTER' : 'INVITE', values, lookup, random.chance(0.3) ? Buffer.from('v=0\r\n') : undefined);
      const challenge = selectChallenge([c.input]);
      if (challenge !== undefined) {
        const credentials = new DigestClient({ username: 'gw', password: 'secret' }).authorize(challenge, 'INVITE', 'sip:+4930123456@carrier.example');
        try {
          parseAuthHeader(credentials);
        } catch (error) {
          throw new FuzzFailure(`credentials built from an accepted challenge do not parse: ${String(error)}\n${credentials}`);
        }
      }
      bearerToken([c.input]);
      return `${parsed}:${verdict.ok ? 'ok' : verdict.reason}`;
    },
    expected: () => undefined,
  });
}
