/**
 * Which web pages may open the SIP WebSocket. A browser lets any page open a WebSocket to any host and only
 * tells the server who asked, in Origin (RFC 6455 §4.1 item 8, §10.2): without a check, any site a user visits
 * can register as them (the browser may hold credentials in the page's storage, or the demo password is known)
 * or simply place calls through the gateway — cross-site WebSocket hijacking. DNS rebinding makes this reach a
 * gateway on loopback or a LAN too, which is why the check compares with a list and never with the Host header.
 *
 * Default: the gateway's own origins (the page it serves) plus the configured ones; `*` allows any.
 * An upgrade without Origin is allowed: only browsers send it, and the threat is a page in a browser; SIPp,
 * test phones and server-side clients connect without one and have no ambient credentials to abuse.
 */
import { isIP } from 'node:net';
import { isLoopback } from './addresses.ts';

/** `any`, or the set of serialized origins (`https://phone.example.com`, `http://127.0.0.1:8080`). */
export type OriginPolicy = 'any' | ReadonlySet<string>;

/**
 * The serialized origin (RFC 6454 §6.2: lower-case scheme and host, default port omitted), or undefined when
 * `text` is not an http(s) origin. `null` (an opaque origin: sandboxed frames, file:// pages) stays `null`.
 */
export function normalizeOrigin(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === 'null') return 'null';
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || (url.pathname !== '/' && url.pathname !== '')) {
    return undefined;
  }
  return url.origin;
}

export interface OwnOriginsInput {
  /** Whether the server itself speaks TLS (https/wss). */
  secure: boolean;
  /** The address bound (`127.0.0.1`, `0.0.0.0`, `::1`, a host name). */
  host: string;
  /** The bound port. */
  port: number;
  /** The name or address the world reaches the server by, and its port when a proxy or NAT changes it. */
  advertisedHost?: string;
  advertisedPort?: number;
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

function hostPart(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/**
 * The origins of pages the gateway serves itself. Loopback and wildcard binds get every loopback spelling
 * (`localhost` ↔ `127.0.0.1` ↔ `[::1]`: the demo is opened by either name). The advertised host is allowed with
 * both schemes, since a TLS-terminating proxy in front serves the page over https while the gateway speaks http.
 */
export function ownOrigins(input: OwnOriginsInput): string[] {
  const scheme = input.secure ? 'https' : 'http';
  const out = new Set<string>();
  const add = (s: string, host: string, port: number): void => {
    const origin = normalizeOrigin(`${s}://${host}:${port}`);
    if (origin !== undefined) out.add(origin);
  };
  const wildcard = input.host === '0.0.0.0' || input.host === '::';
  const hosts = wildcard || isLoopback(input.host) || input.host === 'localhost' ? LOOPBACK_NAMES : [hostPart(input.host)];
  for (const h of hosts) add(scheme, h, input.port);
  if (input.advertisedHost !== undefined) {
    const h = hostPart(input.advertisedHost);
    for (const port of new Set([input.port, input.advertisedPort ?? input.port])) {
      add('http', h, port);
      add('https', h, port);
    }
    // Behind a proxy on the default ports the page's origin carries no port at all.
    add('https', h, 443);
    add('http', h, 80);
  }
  return [...out];
}

/** Own origins plus the configured ones; `*` anywhere in `configured` means any origin. Invalid entries throw. */
export function originPolicy(own: readonly string[], configured: readonly string[] = []): OriginPolicy {
  if (configured.includes('*')) return 'any';
  const set = new Set(own);
  for (const entry of configured) {
    const origin = normalizeOrigin(entry);
    if (origin === undefined) throw new RangeError(`not an origin (scheme://host[:port]): ${entry}`);
    set.add(origin);
  }
  return set;
}

/** Whether an upgrade carrying `origin` (undefined: no Origin header) may proceed. */
export function isOriginAllowed(policy: OriginPolicy, origin: string | undefined): boolean {
  if (origin === undefined) return true;
  if (policy === 'any') return true;
  const normalized = normalizeOrigin(origin);
  return normalized !== undefined && policy.has(normalized);
}
