import { GatewayError } from '../../errors.ts';

/**
 * Keying that cannot make a context: an unknown profile, a master key or salt of the wrong length, or an
 * option out of range. Raised once, when the context is built from the DTLS handshake's output; the
 * per-packet functions never throw.
 */
export class SrtpConfigError extends GatewayError {
  constructor(message: string) {
    super('SRTP_CONFIG_INVALID', message);
  }
}
