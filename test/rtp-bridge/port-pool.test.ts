import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { PortPool, PortPoolExhaustedError } from '../../src/rtp-bridge/port-pool.ts';

// Ranges below the Linux ephemeral range (32768+) so that no OS-assigned port of a concurrent test interferes.
const pools: PortPool[] = [];
const foreign: dgram.Socket[] = [];
function pool(min: number, max: number): PortPool {
  const p = new PortPool({ min, max, bindAddress: '127.0.0.1' });
  pools.push(p);
  return p;
}
async function occupy(port: number): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(port, '127.0.0.1');
  await once(s, 'listening');
  foreign.push(s);
  return s;
}
async function canBind(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  try {
    s.bind(port, '127.0.0.1');
    await Promise.race([once(s, 'listening'), once(s, 'error').then(([e]) => Promise.reject(e))]);
    return true;
  } catch {
    return false;
  } finally {
    s.close();
  }
}

afterEach(() => {
  for (const p of pools.splice(0)) p.close();
  for (const s of foreign.splice(0)) s.close();
});

describe('PortPool', () => {
  it('binds an even RTP port and the next odd port for RTCP', async () => {
    const p = pool(21001, 21009);
    const pair = await p.allocatePair();
    expect(pair.port % 2).toBe(0);
    expect(pair.rtp.address()).toMatchObject({ address: '127.0.0.1', port: pair.port });
    expect(pair.rtcp.address()).toMatchObject({ address: '127.0.0.1', port: pair.port + 1 });
    expect([p.inUse, p.free]).toEqual([2, 7]);
  });

  it('fails with PORTS_EXHAUSTED (503) when no pair is left, keeping no half pair', async () => {
    const p = pool(21011, 21016); // pairs 21012/13 and 21014/15; 21011 and 21016 cannot pair
    await p.allocatePair();
    await p.allocatePair();
    const err = await p.allocatePair().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortPoolExhaustedError);
    expect(err).toMatchObject({ code: 'PORTS_EXHAUSTED', status: 503 });
    expect(p.inUse).toBe(4);
  });

  it('hands out ports round-robin, so a released port is reused only after the whole range', async () => {
    const p = pool(21020, 21027);
    const a = await p.allocatePair();
    expect(a.port).toBe(21020);
    p.release(a.port);
    const order = [];
    for (let i = 0; i < 4; i++) order.push((await p.allocatePair()).port);
    expect(order).toEqual([21022, 21024, 21026, 21020]);
  });

  it('release closes the sockets and returns both ports; releasing twice is harmless', async () => {
    const p = pool(21030, 21031);
    const pair = await p.allocatePair();
    p.release(pair.port);
    p.release(pair.port);
    p.release(pair.port + 1);
    expect([p.inUse, p.free]).toEqual([0, 2]);
    expect(await canBind(21030)).toBe(true);
    expect(await canBind(21031)).toBe(true);
    expect(() => pair.rtp.address()).toThrow();
  });

  it('skips a port another socket holds, for either half of the pair, and frees the half it bound', async () => {
    await occupy(21041); // RTCP half of 21040
    const p = pool(21040, 21045);
    const pair = await p.allocatePair();
    expect(pair.port).toBe(21042);
    expect(await canBind(21040)).toBe(true);
    await occupy(21044);
    expect((await p.allocatePair().catch((e: unknown) => e))).toBeInstanceOf(PortPoolExhaustedError);
    expect(p.inUse).toBe(2);
  });

  it('allocates single rtcp-mux ports, even ones first', async () => {
    const p = pool(21050, 21053);
    const ports = [];
    for (let i = 0; i < 4; i++) {
      const s = await p.allocateSingle();
      expect(s.socket.address().port).toBe(s.port);
      ports.push(s.port);
    }
    // Odd ones only when the even ones are gone, still round-robin from the last port handed out.
    expect(ports).toEqual([21050, 21052, 21053, 21051]);
    await expect(p.allocateSingle()).rejects.toMatchObject({ code: 'PORTS_EXHAUSTED' });
  });

  it('never gives the same port to concurrent allocations', async () => {
    const p = pool(21060, 21079);
    const pairs = await Promise.all(Array.from({ length: 10 }, () => p.allocatePair()));
    expect(new Set(pairs.map((x) => x.port)).size).toBe(10);
    expect(p.inUse).toBe(20);
  });

  it('binds udp6 sockets for an IPv6 bind address', async () => {
    const p = new PortPool({ min: 21080, max: 21083, bindAddress: '::1' });
    pools.push(p);
    expect(p.socketType).toBe('udp6');
    const pair = await p.allocatePair();
    expect(pair.rtp.address()).toMatchObject({ address: '::1', family: 'IPv6' });
  });

  it('rejects a nonsensical range at construction', () => {
    expect(() => new PortPool({ min: 5000, max: 4000 })).toThrow(expect.objectContaining({ code: 'BAD_PORT_RANGE' }));
  });
});
