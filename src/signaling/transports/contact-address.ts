/**
 * Where a peer reaches us: the host and port for our Contact (RFC 3261 §8.1.1.8: "the URI at which the UA would
 * like to be contacted"; §10.2.1 for a REGISTER binding). One rule for every place that writes one:
 *
 * 1. a listener with `advertisedHost` (1:1 NAT, a DNS name), or bound to a specific address: its sent-by;
 * 2. a listener bound to a wildcard (0.0.0.0, ::) without one: the address our packets towards that peer leave
 *    from — the connection's own local address once one is up, else the kernel's source address for that
 *    destination (a connected UDP socket: route lookup only, no packet sent) — with the listener's port (for
 *    TCP/TLS the listening port, not the ephemeral one of a connection we opened);
 * 3. no listener of that protocol: the channel's own local address and port.
 *
 * A wildcard listener's sent-by is loopback (transports/config.ts `sentByFor`): right for Via on loopback, never
 * right in a Contact given to another host. The listener is chosen by the peer's address family; an IPv4 peer may
 * use a dual-stack `::` listener.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { GatewayError } from '../../errors.ts';
import type { Channel, Endpoint, TransportProtocol } from '../transport.ts';
import type { BoundListener } from './config.ts';
import type { SentBy } from './channels.ts';

export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '';
}

function familyOf(address: string): 4 | 6 {
  const bare = address.startsWith('[') ? address.slice(1, -1) : address;
  return isIP(bare) === 6 ? 6 : 4;
}

function bracketed(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}

/** The listener of `protocol` for a peer at `remote` (an IP literal or a name; names count as IPv4). */
export function listenerTowards(listeners: readonly BoundListener[], protocol: TransportProtocol, remote: string | undefined): BoundListener | undefined {
  const candidates = listeners.filter((l) => l.protocol === protocol);
  if (remote === undefined) return candidates[0];
  const family = familyOf(remote);
  return (
    candidates.find((l) => familyOf(l.local.address) === family) ??
    (family === 4 ? candidates.find((l) => l.local.address === '::') : undefined) ??
    candidates[0]
  );
}

/**
 * Rules 1–3 above when they need no lookup: `local` is the address our packets to the peer leave from, if known.
 * Undefined when the listener is a wildcard one and `local` is unknown (ask `localAddressTowards`).
 */
export function contactHostPort(
  listeners: readonly BoundListener[],
  protocol: TransportProtocol,
  remote: string | undefined,
  local: Endpoint | undefined,
): SentBy | undefined {
  const listener = listenerTowards(listeners, protocol, remote);
  if (listener !== undefined) {
    if (listener.advertised || !isWildcard(listener.local.address)) return listener.sentBy;
    return local === undefined || isWildcard(local.address) ? undefined : { host: bracketed(local.address), port: listener.sentBy.port };
  }
  return local === undefined || isWildcard(local.address) ? undefined : { host: bracketed(local.address), port: local.port };
}

/** Our end of `channel` when it is a real address (a connection that is up; not a wildcard UDP socket). */
export function knownLocal(channel: Channel): Endpoint | undefined {
  return isWildcard(channel.local.address) ? undefined : channel.local;
}

/** Where a peer reached over `channel` reaches us (rules 1–3), looking the source address up when needed. */
export async function contactForChannel(listeners: readonly BoundListener[], channel: Channel): Promise<SentBy> {
  const remote = channel.remote.address;
  const quick = contactHostPort(listeners, channel.protocol, remote, knownLocal(channel));
  if (quick !== undefined) return quick;
  const address = await localAddressTowards(remote);
  return contactHostPort(listeners, channel.protocol, remote, { address, port: channel.local.port }) ?? { host: bracketed(address), port: channel.local.port };
}

const CACHE_TTL_MS = 300_000;
const CACHE_MAX = 1024;
/** Least recently written first (a Map keeps insertion order): the oldest entry goes when the cache is full. */
const cache = new Map<string, { address: string; at: number }>();
/** One lookup at a time per remote: calls arriving while it runs share it. */
const inFlight = new Map<string, Promise<string>>();

/** A lookup that found no usable source address: no route, a name that does not resolve, or only a wildcard. */
export class SourceAddressError extends GatewayError {
  constructor(remote: string, reason: string, cause?: unknown) {
    super('SOURCE_ADDRESS_UNKNOWN', `no source address towards ${remote}: ${reason}`, cause === undefined ? undefined : { cause });
  }
}

function remember(key: string, address: string, at: number): void {
  cache.delete(key);
  if (cache.size >= CACHE_MAX) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(key, { address, at });
}

/**
 * The source address last found towards `remote`, without waiting (stale-while-revalidate): an entry older than
 * five minutes is still served — routes rarely change, and the listener's loopback sent-by would be wrong for
 * certain — while a fresh lookup replaces it in the background. Undefined only when nothing was ever found.
 */
export function knownLocalAddressTowards(remote: string): string | undefined {
  const hit = cache.get(remote);
  if (hit === undefined) return undefined;
  if (Date.now() - hit.at >= CACHE_TTL_MS) refresh(remote).catch(() => undefined);
  return hit.address;
}

/**
 * The address the kernel sends from towards `remote` (an IP literal or a name): a UDP socket connected to it
 * (route lookup, no packet sent), then closed. Cached for five minutes under `remote` and, for a name, under the
 * address it resolved to (a peer's requests arrive from that address). Rejects with SourceAddressError when there
 * is no route or the name does not resolve; a failure caches nothing.
 */
export function localAddressTowards(remote: string): Promise<string> {
  const hit = cache.get(remote);
  if (hit !== undefined && Date.now() - hit.at < CACHE_TTL_MS) return Promise.resolve(hit.address);
  return refresh(remote);
}

function refresh(remote: string): Promise<string> {
  const running = inFlight.get(remote);
  if (running !== undefined) return running;
  const lookup = probe(remote).finally(() => inFlight.delete(remote));
  inFlight.set(remote, lookup);
  return lookup;
}

function probe(remote: string): Promise<string> {
  const host = remote.startsWith('[') ? remote.slice(1, -1) : remote;
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(familyOf(host) === 6 ? 'udp6' : 'udp4');
    let settled = false;
    const fail = (error: unknown, reason: string): void => {
      if (settled) return;
      settled = true;
      socket.close();
      reject(new SourceAddressError(remote, reason, error));
    };
    socket.once('error', (error) => fail(error, error.message));
    try {
      // With a callback, Node hands a failed connect (ENOTFOUND, ENETUNREACH) to it and emits no 'error'.
      socket.connect(5060, host, (error?: Error) => {
        if (error) return fail(error, error.message);
        let address: string;
        let resolved: string;
        try {
          address = socket.address().address;
          resolved = socket.remoteAddress().address;
        } catch (err) {
          return fail(err, 'socket not connected');
        }
        // An unconnected socket reports the wildcard: never an address to give a peer.
        if (isWildcard(address)) return fail(undefined, 'only a wildcard address');
        settled = true;
        socket.close();
        const at = Date.now();
        remember(remote, address, at);
        if (resolved !== host) remember(resolved, address, at);
        resolve(address);
      });
    } catch (error) {
      fail(error, (error as Error).message);
    }
  });
}
