/**
 * Embedded-page tokens (src/signaling/auth/token.ts verifyToken, bearerToken, tokenFromUrl) on mutated JWTs:
 * byte-level mutations of real tokens (broken base64url, segments, signatures) and structure-aware ones — the
 * header or claims changed as JSON and the token re-signed with the real secret, so that the claim checks (sub,
 * dst, exp, iat, aud, lifetime) see hostile values behind a valid signature. Only TokenError may come out, and a
 * token re-signed with claims it should refuse must be refused.
 */
import { createHmac } from 'node:crypto';
import { TokenError, bearerToken, mintToken, tokenFromUrl, verifyToken, type TokenOptions } from '../../../src/signaling/auth/token.ts';
import { FuzzFailure, runAsyncFuzzLoop, type FuzzStats } from '../harness.ts';
import { Random, type TextCase } from '../mutators.ts';

const NOW = 1_700_000_000_000;
const OPTIONS: TokenOptions = { secret: 'token-fuzz-secret-0123456789abcdefghijklmn', now: () => NOW };
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const HOSTILE_VALUES: unknown[] = [null, true, 0, -1, 1e308, Number.MAX_SAFE_INTEGER + 2, '', 'alice', 'a'.repeat(5000), [], [''], ['('], ['.*'],
  ['@users', '@services'], ['@admin'], ['(a+)+$'], { a: 1 }, [1, 2], 'webrtc-sip-gateway', ['webrtc-sip-gateway', 'other'], NOW / 1000, NOW / 1000 + 1e9];
const CLAIMS = ['sub', 'dst', 'exp', 'iat', 'aud', 'nbf', 'iss', 'jti', '__proto__', 'constructor'];
const HEADERS: unknown[] = [{ alg: 'HS256' }, { alg: 'none' }, { alg: 'HS512' }, { alg: 'RS256' }, { alg: 'HS256', crit: ['b64'], b64: false },
  { alg: 'HS256', typ: 'JWT', kid: '../../etc/passwd' }, { alg: 'hs256' }, {}, { alg: ['HS256'] }];

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function sign(header: unknown, payload: unknown, secret: string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export async function runTokenFuzz(options: { iterations: number; seed: number }): Promise<FuzzStats> {
  const r = new Random(options.seed);
  const secret = OPTIONS.secret as string;
  const valid = [
    (await mintToken({ user: 'alice', destinations: ['echo', '\\+49[0-9]{6,12}'] }, OPTIONS)).token,
    (await mintToken({ user: 'bob', destinations: ['@users', '@services'], ttlSeconds: 3600 }, OPTIONS)).token,
    (await mintToken({ user: 'guest.1', destinations: [] }, OPTIONS)).token,
  ];
  const basePayload = { sub: 'alice', dst: ['echo'], aud: 'webrtc-sip-gateway', iat: NOW / 1000, exp: NOW / 1000 + 300 };

  type Case = TextCase & { resigned: boolean; shouldPass?: boolean };
  const next = (): Case => {
    const token = r.pick(valid);
    const kind = r.int(3);
    if (kind === 0) {
      // Claims as JSON: remove, replace or add one, then sign with the real secret.
      const payload: Record<string, unknown> = { ...basePayload };
      const claim = r.pick(CLAIMS);
      const op = r.int(3);
      if (op === 0) delete payload[claim];
      else payload[claim] = r.pick(HOSTILE_VALUES);
      const header = r.chance(0.8) ? { alg: 'HS256', typ: 'JWT' } : r.pick(HEADERS);
      return { input: sign(header, payload, secret), ops: [`claims ${op === 0 ? 'delete' : 'set'} ${claim}`, JSON.stringify(header)], resigned: true };
    }
    if (kind === 1) {
      // Not JSON at all, or JSON of the wrong type, behind a valid signature.
      const payload = r.pick(['null', '[]', '"x"', '1', '{', '{"sub":"alice","exp":1e999}', '\u0000', '{"sub":"alice"}{"sub":"bob"}']);
      return { input: sign({ alg: 'HS256' }, payload, secret), ops: [`raw payload ${JSON.stringify(payload)}`], resigned: true };
    }
    // Byte level on the compact form.
    let text = token;
    const ops: string[] = [];
    for (let n = 1 + r.int(3); n > 0; n--) {
      const at = r.int(text.length + 1);
      switch (r.int(6)) {
        case 0:
          text = text.slice(0, at) + r.pick([...B64]) + text.slice(at + 1);
          ops.push(`char@${at}`);
          break;
        case 1:
          text = text.slice(0, at);
          ops.push(`truncate@${at}`);
          break;
        case 2:
          text = text.slice(0, at) + r.pick(['.', '..', '=', '+', '/', ' ', '%', '\u00e9', '\0']) + text.slice(at);
          ops.push(`insert@${at}`);
          break;
        case 3: {
          const parts = text.split('.');
          const i = r.int(parts.length);
          const j = r.int(parts.length);
          [parts[i], parts[j]] = [parts[j]!, parts[i]!];
          text = parts.join('.');
          ops.push(`swap ${i} ${j}`);
          break;
        }
        case 4: {
          const parts = text.split('.');
          const other = r.pick(valid).split('.');
          const i = r.int(Math.min(parts.length, other.length));
          parts[i] = other[i]!;
          text = parts.join('.');
          ops.push(`segment ${i} from another token`);
          break;
        }
        default:
          text = text + text.slice(0, r.int(text.length));
          ops.push('append');
      }
    }
    return { input: text, ops, resigned: false };
  };

  return runAsyncFuzzLoop<Case>({
    target: 'token',
    ...options,
    next,
    check: async (c) => {
      bearerToken([c.input, `Bearer ${c.input}`]);
      tokenFromUrl(`/sip?token=${c.input}`);
      const identity = await verifyToken(c.input, OPTIONS);
      // Whatever passes must be a well-formed identity within the limits.
      if (!/^[A-Za-z0-9._~+-]{1,64}$/.test(identity.user)) throw new FuzzFailure(`accepted user ${JSON.stringify(identity.user)}`);
      if (identity.expiresAt - identity.issuedAt > 3600_000 || identity.expiresAt <= NOW - 10_000) throw new FuzzFailure('accepted an out-of-limits lifetime');
      if (!Array.isArray(identity.destinations) || identity.destinations.some((d) => typeof d !== 'string')) throw new FuzzFailure('accepted malformed destinations');
      return c.resigned ? 'ok:resigned' : 'ok';
    },
    expected: (error) => (error instanceof TokenError ? error.code : undefined),
  });
}
