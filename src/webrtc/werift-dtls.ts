import { createRequire } from 'node:module';
import type * as DtlsModule from 'werift-dtls/lib/dtls/src/index.js';
import type * as PlaintextModule from 'werift-dtls/lib/dtls/src/record/message/plaintext.js';
import type * as ServerKeyExchangeModule from 'werift-dtls/lib/dtls/src/handshake/message/server/keyExchange.js';
import type * as CertificateVerifyModule from 'werift-dtls/lib/dtls/src/handshake/message/client/certificateVerify.js';
import type * as BuilderModule from 'werift-dtls/lib/dtls/src/record/builder.js';

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
