/**
 * Per-trunk `tlsVerify`: a trunk reached over SIP/TLS whose certificate is self-signed (made with openssl for the
 * test) fails the call with 503 while the certificate is verified (the default), and carries it when the trunk
 * says `tlsVerify: false`; SNI names the trunk's host either way. The trunk is a small SIP/TLS UAS in the test: it
 * answers INVITE with 200 and SDP, and BYE with 200.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { describe, it, expect, afterEach } from 'vitest';
import { Cleanup, DIALING_USERS, expectReleased, gatewayFor, phoneFor, waitFor } from './harness.ts';
import { TestPhoneError } from '../support/phone-errors.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function selfSigned(): { cert: string; key: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'tls-trunk-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8'), key: readFileSync(path.join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Headers of a request copied into a response, per RFC 3261 §8.2.6.2 (our To tag added). */
function respond(request: string, status: string, body = ''): string {
  const copy = (name: string): string[] => request.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  const to = copy('To').map((l) => (/;tag=/.test(l) ? l : `${l};tag=tlstrunk`));
  const lines = [`SIP/2.0 ${status}`, ...copy('Via'), ...copy('From'), ...to, ...copy('Call-ID'), ...copy('CSeq'), 'Contact: <sip:trunk@127.0.0.1;transport=tls>'];
  if (body) lines.push('Content-Type: application/sdp');
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
  return lines.join('\r\n');
}

async function tlsTrunk(): Promise<{ port: number; servernames: string[]; methods: string[] }> {
  const { cert, key } = selfSigned();
  const state = { port: 0, servernames: [] as string[], methods: [] as string[] };
  const context = tls.createSecureContext({ cert, key });
  // SNI is read from the ClientHello, before a verifying client gives up on the certificate.
  const SNICallback = (name: string, done: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    state.servernames.push(name);
    done(null, context);
  };
  const server = tls.createServer({ cert, key, SNICallback }, (socket) => {
    let buffer = '';
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/^content-length:\s*(\d+)/im.exec(buffer.slice(0, end))?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        const message = buffer.slice(0, end + 4 + length);
        buffer = buffer.slice(end + 4 + length);
        const method = /^(\w+) /.exec(message)?.[1] ?? '';
        state.methods.push(method);
        if (method === 'INVITE') {
          const sdp = 'v=0\r\no=trunk 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n';
          socket.write(respond(message, '200 OK', sdp));
        } else if (method === 'BYE') {
          socket.write(respond(message, '200 OK'));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanup.add(server, (s) => new Promise((resolve) => s.close(resolve)));
  state.port = (server.address() as { port: number }).port;
  return state;
}

function config(port: number, tlsVerify: boolean | undefined): string {
  const verify = tlsVerify === undefined ? '' : `, tlsVerify: ${tlsVerify}`;
  return `${DIALING_USERS}trunks:
  - { name: carrier, host: localhost, port: ${port}, transport: tls, allowedSources: [127.0.0.1]${verify} }
routes:
  outbound:
    - { match: '\\+1555[0-9]+', trunk: carrier }
`;
}

describe('per-trunk tlsVerify (SIP over TLS to a trunk with a self-signed certificate)', () => {
  it('verifies by default: the handshake is refused and the call fails with 503', async () => {
    const trunk = await tlsTrunk();
    const gw = cleanup.add(await gatewayFor(config(trunk.port, undefined)), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const error = (await alice.call('+15551230101').catch((e: unknown) => e)) as TestPhoneError;
    expect(error).toBeInstanceOf(TestPhoneError);
    expect(error.status).toBe(503);
    // The gateway hung up during the handshake: no SIP message reached the trunk.
    expect(trunk.methods).toEqual([]);
    expect(trunk.servernames).toContain('localhost');
    await expectReleased(gw);
  });

  it('tlsVerify: false carries the call over TLS anyway, with SNI naming the trunk host', async () => {
    const trunk = await tlsTrunk();
    const gw = cleanup.add(await gatewayFor(config(trunk.port, false)), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const call = await alice.call('+15551230102');
    expect(trunk.servernames).toEqual(['localhost']);
    await call.hangup();
    await waitFor(() => trunk.methods.includes('BYE'), 'the BYE at the trunk');
    expect(trunk.methods).toEqual(['INVITE', 'ACK', 'BYE']);
    await expectReleased(gw);
  });
});
