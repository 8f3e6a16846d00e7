/**
 * Errors of the ng control protocol layer. Both are caught by the server and turned into a
 * `{ result: 'error', 'error-reason' }` reply (or, when not even a cookie could be read, into silence).
 */
import { GatewayError } from '../errors.ts';

/** Bytes that are not bencode (or not bencode we accept: too deep, too long, out-of-range integers). */
export class BencodeError extends GatewayError {
  /** Byte offset in the input where decoding gave up. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super('BENCODE_INVALID', `${message} at byte ${offset}`);
    this.offset = offset;
  }
}

export type NgErrorCode =
  /** No `cookie SP` prefix, or a body that is neither a bencode dictionary nor a JSON object. */
  | 'NG_FRAMING'
  /** A well-formed dictionary that is not a valid command: missing key, wrong type, bad value. */
  | 'NG_INVALID'
  /** A `command` rtpengine does not define either. */
  | 'NG_UNKNOWN_COMMAND'
  /** An rtpengine command (or option) this media plane cannot carry out. */
  | 'NG_UNSUPPORTED';

export class NgError extends GatewayError {
  declare readonly code: NgErrorCode;

  constructor(code: NgErrorCode, message: string) {
    super(code, message);
  }
}
