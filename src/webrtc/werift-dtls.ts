import { createRequire } from 'node:module';
import type * as DtlsModule from 'werift-dtls/lib/dtls/src/index.js';
import type * as PlaintextModule from 'werift-dtls/lib/dtls/src/record/message/plaintext.js';
import type * as ServerKeyExchangeModule from 'werift-dtls/lib/dtls/src/handshake/message/server/keyExchange.js';
import type * as CertificateVerifyModule from 'werift-dtls/lib/dtls/src/handshake/message/client/certificateVerify.js';
import type * as BuilderModule from 'werift-dtls/lib/dtls/src/record/builder.js';
import type * as NamedCurveModule from 'werift-dtls/lib/dtls/src/cipher/namedCurve.js';
import type * as PrfModule from 'werift-dtls/lib/dtls/src/cipher/prf.js';
import type { CipherContext } from 'werift-dtls/lib/dtls/src/context/cipher.js';
import { ecdhePreMasterSecret, generateEcdheKeyPair, localIdentity, type LocalSigner } from './dtls-native-crypto.ts';

/**
 * werift-dtls 0.5.x publishes `main: lib/index.js`, which does not exist; its real entry point is
 * lib/dtls/src/index.js (CommonJS). We load it and the few record/handshake classes the handshake verification
 * needs through createRequire so the rest of the leg imports ordinary typed values from here.
 */
const require = createRequire(import.meta.url);

export const dtls = require('werift-dtls/lib/dtls/src/index.js') as typeof DtlsModule;
export const { DtlsPlaintext } = require('werift-dtls/lib/dtls/src/record/message/plaintext.js') as typeof PlaintextModule;
export const { ServerKeyExchange } = require(
  'werift-dtls/lib/dtls/src/handshake/message/server/keyExchange.js',
) as typeof ServerKeyExchangeModule;
export const { CertificateVerify } = require(
  'werift-dtls/lib/dtls/src/handshake/message/client/certificateVerify.js',
) as typeof CertificateVerifyModule;

export const { createPlaintext } = require('werift-dtls/lib/dtls/src/record/builder.js') as typeof BuilderModule;

export type DtlsServer = DtlsModule.DtlsServer;
export type DtlsClient = DtlsModule.DtlsClient;
export type DtlsSocket = DtlsModule.DtlsSocket;
export type SignatureHash = DtlsModule.SignatureHash;

/**
 * werift-dtls' handshake crypto, switched to node:crypto (dtls-native-crypto.ts explains why and what).
 *
 * No fork and no subclass can reach these: DtlsServer/DtlsClient build their CipherContext and call the curve
 * functions from deep inside the flight handlers. The narrowest hook is the places werift looks them up at
 * call time — the `generateKeyPair` export of cipher/namedCurve.js (flight2 server side, flight5 client side),
 * the `prfPreMasterSecret` export of cipher/prf.js (flight6 server side, flight5 client side), and
 * CipherContext.prototype's `parseX509` (run by every CipherContext constructor) and `signatureData` (the
 * client's CertificateVerify; ServerKeyExchange signing goes through the signer parseX509 leaves). Only our
 * transports use this copy of werift-dtls; the `werift` package bundles its own. test/webrtc/dtls-native-crypto.test.ts counts the native calls per handshake, so a werift update that
 * stops looking these up where we replace them fails that test rather than silently going back to JavaScript.
 */
const namedCurve = require('werift-dtls/lib/dtls/src/cipher/namedCurve.js') as typeof NamedCurveModule;
const prf = require('werift-dtls/lib/dtls/src/cipher/prf.js') as typeof PrfModule;
const cipherContext = dtls.CipherContext.prototype;

type Backend = 'native' | 'werift';
let backend: Backend = 'native';
const werift = {
  generateKeyPair: namedCurve.generateKeyPair,
  prfPreMasterSecret: prf.prfPreMasterSecret,
  parseX509: cipherContext.parseX509,
  signatureData: cipherContext.signatureData,
};

// Installed once; each dispatches on `backend`, so switching never replaces functions others may have wrapped
// since (certificate.ts wraps parseX509 to share its result between associations).
namedCurve.generateKeyPair = (curve) =>
  backend === 'native' ? (generateEcdheKeyPair(curve) as ReturnType<typeof werift.generateKeyPair>) : werift.generateKeyPair(curve);
prf.prfPreMasterSecret = (publicKey, privateKey, curve) =>
  backend === 'native' ? ecdhePreMasterSecret(publicKey, privateKey, curve) : werift.prfPreMasterSecret(publicKey, privateKey, curve);
cipherContext.parseX509 = function (this: CipherContext, certPem, keyPem, signatureHash): void {
  if (backend !== 'native') return werift.parseX509.call(this, certPem, keyPem, signatureHash);
  const identity = localIdentity(certPem, keyPem);
  this.localCert = identity.der; // werift copies it into each Certificate message
  // werift calls only sign() (ServerKeyExchange) and toPEM() on it; a LocalSigner has both.
  this.localPrivateKey = identity.signer as unknown as CipherContext['localPrivateKey'];
  this.signatureHashAlgorithm = signatureHash;
};
cipherContext.signatureData = function (this: CipherContext, data, hash): Buffer {
  if (backend !== 'native') return werift.signatureData.call(this, data, hash);
  // The client's CertificateVerify: werift's own version re-imports the key from PEM for every signature.
  // Both werift's @fidm/x509 PrivateKey and our LocalSigner have sign(data, hash).
  return (this.localPrivateKey as unknown as LocalSigner).sign(data, hash);
};

/**
 * Which implementation werift-dtls' handshakes use from now on; 'native' unless changed. 'werift' (its
 * JavaScript curves, @fidm/x509 parsing and PEM re-import per signature) exists for benchmarks and tests to
 * compare against; a context parsed before a switch keeps the key object it got.
 */
export function setDtlsCryptoBackend(next: Backend): void {
  backend = next;
}
