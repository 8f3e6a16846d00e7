import dgram from 'node:dgram';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { SendPool } from '../../src/webrtc/send-pool.ts';

describe('SendPool', () => {
  it('hands out each slot once until its send completes, then again', () => {
    const pool = new SendPool(2, 64);
    const a = pool.acquire()!;
    const b = pool.acquire()!;
    expect(a).not.toBe(b);
    expect(pool.acquire()).toBeUndefined();
    a.done(null);
    expect(pool.acquire()).toBe(a);
    b.done(new Error('EMSGSIZE'));
    expect(pool.errors).toBe(1);
    expect(pool.available).toBe(1);
  });

  it('gives a slot view of the packet length over the slot memory, the same object while the length repeats', () => {
    const slot = new SendPool(1, 64).acquire()!;
    const v40 = slot.view(40);
    expect(v40.length).toBe(40);
    expect(v40.buffer).toBe(slot.buf.buffer);
    expect(v40.byteOffset).toBe(slot.buf.byteOffset);
    expect(slot.view(40)).toBe(v40);
    const v20 = slot.view(20);
    expect(v20.length).toBe(20);
    slot.buf[0] = 0x99;
    expect(v20[0]).toBe(0x99);
    expect(slot.view(64).length).toBe(64);
  });

  it('sends exactly the view’s octets on a real socket and frees the slot when the kernel has them', async () => {
    const rx = dgram.createSocket('udp4');
    const tx = dgram.createSocket('udp4');
    try {
      rx.bind(0, '127.0.0.1');
      tx.bind(0, '127.0.0.1');
      await Promise.all([once(rx, 'listening'), once(tx, 'listening')]);
      const pool = new SendPool(1, 64);
      const slot = pool.acquire()!;
      slot.buf.fill(0xab);
      const received = once(rx, 'message') as Promise<[Buffer]>;
      tx.send(slot.view(12), rx.address().port, '127.0.0.1', slot.done);
      const [msg] = await received;
      expect(msg).toEqual(Buffer.alloc(12, 0xab));
      while (pool.available === 0) await new Promise((r) => setImmediate(r));
      expect(pool.acquire()).toBe(slot);
    } finally {
      rx.close();
      tx.close();
    }
  });
});
