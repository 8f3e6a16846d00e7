/**
 * The host:port the gateway writes in its Contact towards a trunk (contact-address.ts, used by the trunk REGISTER
 * and the B2BUA's dialogs): the advertised or bound address of the listener; for a wildcard listener without
 * `advertise`, the address packets towards that trunk leave from — never the loopback sent-by a wildcard listener
 * gets for Via. Listener tables are built as the transport layer reports them; the source-address lookup runs
 * against loopback only (a connected UDP socket: no packet is sent).
 */
import { describe, it, expect, vi, afterEach } from 'vitest';
import type { BoundListener } from '../../src/signaling/transport-layer.ts';
import { contactHostPort, listenerTowards, localAddressTowards, knownLocalAddressTowards } from '../../src/signaling/transports/contact-address.ts';

function listener(protocol: BoundListener['protocol'], address: string, port: number, advertisedHost?: string): BoundListener {
  const wildcard = address === '0.0.0.0' || address === '::';
  let host = advertisedHost ?? (wildcard ? (address === '::' ? '::1' : '127.0.0.1') : address);
  if (host.includes(':')) host = `[${host}]`;
  return { protocol, local: { address, port }, sentBy: { host, port }, advertised: advertisedHost !== undefined };
}

describe('contactHostPort', () => {
  it('an advertised listener: its advertised host and port, whatever it binds', () => {
    const listeners = [listener('UDP', '0.0.0.0', 5060, '203.0.113.7')];
    expect(contactHostPort(listeners, 'UDP', '198.51.100.1', { address: '10.0.0.2', port: 5060 })).toEqual({ host: '203.0.113.7', port: 5060 });
  });

  it('a listener bound to a specific address: that address', () => {
    const listeners = [listener('TCP', '10.0.0.2', 5060)];
    expect(contactHostPort(listeners, 'TCP', '198.51.100.1', { address: '10.0.0.2', port: 40123 })).toEqual({ host: '10.0.0.2', port: 5060 });
  });

  it('a wildcard listener: the local address towards the trunk with the listening port, not loopback', () => {
    const listeners = [listener('UDP', '0.0.0.0', 5060), listener('TLS', '0.0.0.0', 5061)];
    expect(contactHostPort(listeners, 'UDP', '198.51.100.1', undefined)).toBeUndefined(); // needs the lookup
    expect(contactHostPort(listeners, 'UDP', '198.51.100.1', { address: '0.0.0.0', port: 5060 })).toBeUndefined();
    expect(contactHostPort(listeners, 'UDP', '198.51.100.1', { address: '10.0.0.2', port: 0 })).toEqual({ host: '10.0.0.2', port: 5060 });
    // A TLS connection we opened: its address, but the listening port (RFC 3261 §10.2.1), not the ephemeral one.
    expect(contactHostPort(listeners, 'TLS', '198.51.100.1', { address: '10.0.0.2', port: 40123 })).toEqual({ host: '10.0.0.2', port: 5061 });
  });

  it('a dual-stack :: listener serves an IPv4 trunk with the IPv4 address it is reached from', () => {
    const listeners = [listener('UDP', '::', 5060)];
    expect(listenerTowards(listeners, 'UDP', '198.51.100.1')).toBe(listeners[0]);
    expect(contactHostPort(listeners, 'UDP', '198.51.100.1', { address: '10.0.0.2', port: 0 })).toEqual({ host: '10.0.0.2', port: 5060 });
    expect(contactHostPort(listeners, 'UDP', '2001:db8::1', { address: '2001:db8::2', port: 0 })).toEqual({ host: '[2001:db8::2]', port: 5060 });
  });

  it('picks the listener of the trunk’s address family', () => {
    const listeners = [listener('UDP', '::1', 5070), listener('UDP', '127.0.0.1', 5060)];
    expect(contactHostPort(listeners, 'UDP', '127.0.0.5', undefined)).toEqual({ host: '127.0.0.1', port: 5060 });
    expect(contactHostPort(listeners, 'UDP', '::1', undefined)).toEqual({ host: '[::1]', port: 5070 });
  });

  it('no listener of the protocol: the channel’s own address and port', () => {
    const listeners = [listener('UDP', '127.0.0.1', 5060)];
    expect(contactHostPort(listeners, 'TCP', '127.0.0.1', { address: '127.0.0.1', port: 40000 })).toEqual({ host: '127.0.0.1', port: 40000 });
  });
});

describe('localAddressTowards', () => {
  it('is the source address the kernel picks (loopback towards loopback), then cached', async () => {
    expect(await localAddressTowards('127.0.0.1')).toBe('127.0.0.1');
    expect(knownLocalAddressTowards('127.0.0.1')).toBe('127.0.0.1');
  });
});

/** The module's cache is process-wide: each of these starts from an empty one. */
async function freshModule(): Promise<typeof import('../../src/signaling/transports/contact-address.ts')> {
  vi.resetModules();
  return import('../../src/signaling/transports/contact-address.ts');
}

describe('localAddressTowards: failures, sharing, staleness, eviction', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a name that does not resolve rejects (no wildcard 0.0.0.0 from the unconnected socket) and caches nothing', async () => {
    const m = await freshModule();
    await expect(m.localAddressTowards('nonexistent.invalid')).rejects.toMatchObject({ code: 'SOURCE_ADDRESS_UNKNOWN' });
    await expect(m.localAddressTowards('nonexistent.invalid')).rejects.toBeInstanceOf(m.SourceAddressError);
    expect(m.knownLocalAddressTowards('nonexistent.invalid')).toBeUndefined();
    expect(m.knownLocalAddressTowards('0.0.0.0')).toBeUndefined();
  });

  it('concurrent lookups towards one peer share one probe', async () => {
    const m = await freshModule();
    const first = m.localAddressTowards('127.0.0.9');
    const second = m.localAddressTowards('127.0.0.9');
    expect(second).toBe(first);
    expect(await first).not.toBe('0.0.0.0');
  });

  it('a name is cached under the address it resolved to as well (a peer\'s requests arrive from that address)', async () => {
    const m = await freshModule();
    expect(m.knownLocalAddressTowards('127.0.0.1')).toBeUndefined();
    const address = await m.localAddressTowards('localhost');
    expect(m.knownLocalAddressTowards('localhost')).toBe(address);
    expect(m.knownLocalAddressTowards('127.0.0.1')).toBe(address);
  });

  it('an entry older than five minutes is still served while a new lookup replaces it', async () => {
    const m = await freshModule();
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    const address = await m.localAddressTowards('127.0.0.7');
    vi.setSystemTime(start + 6 * 60_000);
    // Stale: served at once (never the loopback sent-by instead), and a refresh starts, shared with the next caller.
    expect(m.knownLocalAddressTowards('127.0.0.7')).toBe(address);
    const refreshed = m.localAddressTowards('127.0.0.7');
    expect(await refreshed).toBe(address);
    // The refresh stamped the entry: a fresh hit resolves without a new probe.
    vi.setSystemTime(start + 10 * 60_000);
    const hit = m.localAddressTowards('127.0.0.7');
    expect(m.knownLocalAddressTowards('127.0.0.7')).toBe(address);
    expect(await hit).toBe(address);
  });

  it('a full cache drops its oldest entry, not all of them', async () => {
    const m = await freshModule();
    const peers = Array.from({ length: 1025 }, (_, i) => `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`);
    for (let i = 0; i < peers.length; i += 128) await Promise.all(peers.slice(i, i + 128).map((p) => m.localAddressTowards(p)));
    expect(m.knownLocalAddressTowards(peers[0]!)).toBeUndefined();
    expect(m.knownLocalAddressTowards(peers[1]!)).toBeDefined();
    expect(m.knownLocalAddressTowards(peers[1024]!)).toBeDefined();
  });
});
