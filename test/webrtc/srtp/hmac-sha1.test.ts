import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HMAC_NATIVE_THRESHOLD, HmacSha1, tagMatches } from '../../../src/webrtc/srtp/hmac-sha1.ts';

const be32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

describe('HMAC-SHA1 (RFC 2104) over SRTP packets', () => {
  it('matches the RFC 2202 test cases, including a key longer than the block', () => {
    const cases: [Buffer, Buffer, string][] = [
      [Buffer.alloc(20, 0x0b), Buffer.from('Hi There'), 'b617318655057264e28bc0b6fb378c8ef146be00'],
      [Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?'), 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79'],
      [Buffer.alloc(20, 0xaa), Buffer.alloc(50, 0xdd), '125d7342b9ac11cd91a39af48aa17b4f63f175d3'],
      [
        Buffer.alloc(80, 0xaa),
        Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'),
        'aa4ae5e15272d00e95705637ce8a3b55ed402112',
      ],
    ];
    for (const [key, data, digest] of cases) {
      expect(new HmacSha1(key).mac(data, data.length).toString('hex')).toBe(digest);
    }
  });

  it('agrees with crypto.createHmac at every length through both the JavaScript and the node:crypto path', () => {
    const key = randomBytes(20);
    const hmac = new HmacSha1(key);
    const data = randomBytes(1500);
    const lengths = [...Array.from({ length: HMAC_NATIVE_THRESHOLD + 80 }, (_, i) => i), 1000, 1500];
    for (const length of lengths) {
      const message = data.subarray(0, length);
      const expected = createHmac('sha1', key).update(message).digest();
      expect(hmac.mac(data, length), `length ${length}`).toEqual(expected);
      const roc = (length * 0x01010101) >>> 0;
      const expectedWithRoc = createHmac('sha1', key).update(message).update(be32(roc)).digest();
      expect(hmac.macWithSuffix(data, length, roc), `length ${length} + ROC`).toEqual(expectedWithRoc);
    }
  });

  it('keeps instances with different keys independent of each other', () => {
    const a = new HmacSha1(Buffer.alloc(20, 1));
    const b = new HmacSha1(Buffer.alloc(20, 2));
    const data = randomBytes(172);
    const fromA = Buffer.from(a.macWithSuffix(data, 172, 0xffffffff));
    b.macWithSuffix(data, 172, 0xffffffff);
    expect(a.macWithSuffix(data, 172, 0xffffffff)).toEqual(fromA);
    expect(fromA).toEqual(createHmac('sha1', Buffer.alloc(20, 1)).update(data).update(be32(0xffffffff)).digest());
  });

  it('compares truncated tags octet for octet', () => {
    const digest = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex');
    const packet = Buffer.concat([Buffer.alloc(5), digest.subarray(0, 10)]);
    expect(tagMatches(digest, packet, 5, 10)).toBe(true);
    expect(tagMatches(digest, packet, 5, 4)).toBe(true);
    packet[14]! ^= 0x80;
    expect(tagMatches(digest, packet, 5, 10)).toBe(false);
    expect(tagMatches(digest, packet, 5, 4)).toBe(true);
  });
});
