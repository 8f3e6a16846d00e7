/**
 * The host:port the gateway writes in its Contact towards a trunk (contact-address.ts, used by the trunk REGISTER
 * and the B2BUA's dialogs): the advertised or bound address of the listener; for a wildcard listener without
 * `advertise`, the address packets towards that trunk leave from — never the loopback sent-by a wildcard listener
 * gets for Via. Listener tables are built as the transport layer reports them; the source-address lookup runs
 * against loopback only (a connected UDP socket: no packet is sent).
 */
import { describe, it, expect } from 'vitest';
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
