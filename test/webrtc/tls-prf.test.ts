import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dtlsSrtpKeyBlock, exportKeyingMaterial, finishedVerifyData, tlsPrf } from '../../src/webrtc/tls-prf.ts';

const require = createRequire(import.meta.url);
const weriftPrf = require('werift-dtls/lib/dtls/src/cipher/prf.js') as {
  exportKeyingMaterial(label: string, length: number, master: Buffer, localRandom: Buffer, remoteRandom: Buffer, isClient: boolean): Buffer;
  prfVerifyDataClient(master: Buffer, handshakes: Buffer): Buffer;
  prfVerifyDataServer(master: Buffer, handshakes: Buffer): Buffer;
};

describe('TLS 1.2 PRF, exporter and Finished', () => {
  it('matches the published P_SHA256 test vector', () => {
    // The widely used TLS 1.2 PRF (SHA-256) vector: secret, "test label", seed → 100 octets.
    const out = tlsPrf(Buffer.from('9bbe436ba940f017b17652849a71db35', 'hex'), 'test label', Buffer.from('a0ba9f936cda311827a6f796ffd5198c', 'hex'), 100);
    expect(out.toString('hex')).toBe(
      'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66',
    );
  });

  it('exports the same DTLS-SRTP keying material as werift-dtls, split client key | server key | client salt | server salt', () => {
    const master = randomBytes(48);
    const clientRandom = randomBytes(32);
    const serverRandom = randomBytes(32);
    const ours = exportKeyingMaterial(master, 'EXTRACTOR-dtls_srtp', clientRandom, serverRandom, 60);
    expect(ours).toEqual(weriftPrf.exportKeyingMaterial('EXTRACTOR-dtls_srtp', 60, master, clientRandom, serverRandom, true));
    const block = dtlsSrtpKeyBlock(master, clientRandom, serverRandom, 16, 14);
    expect(Buffer.concat([block.clientWriteKey, block.serverWriteKey, block.clientWriteSalt, block.serverWriteSalt])).toEqual(ours);
  });

  it('computes the Finished verify_data werift-dtls sends', () => {
    const master = randomBytes(48);
    const transcript = randomBytes(900);
    expect(finishedVerifyData(master, 'client', transcript)).toEqual(weriftPrf.prfVerifyDataClient(master, transcript));
    expect(finishedVerifyData(master, 'server', transcript)).toEqual(weriftPrf.prfVerifyDataServer(master, transcript));
  });
});
