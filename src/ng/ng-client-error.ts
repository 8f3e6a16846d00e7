/**
 * The one error class of the ng client and its transports (ng-client.ts, ng-udp-transport.ts): a module of its own
 * so the UDP transport can throw it without importing the client that imports the transport.
 */
import { GatewayError } from '../errors.ts';
import type { BencodeDict } from './bencode.ts';

export type NgClientErrorCode =
  /** No reply before the deadline (the node is down, overloaded, or the address is wrong). */
  | 'NG_TIMEOUT'
  /** The client was closed while the request waited. */
  | 'NG_CLOSED'
  /** The node is gone (its process exited): abort() rejected the request without waiting for its deadline. */
  | 'NG_ABORTED'
  /** A reply with our cookie that is not an ng reply dictionary. */
  | 'NG_BAD_REPLY'
  /** The node answered `result: error`; `reason` is its `error-reason`. */
  | 'NG_REMOTE_ERROR'
  /** `maxPending` requests are already waiting: refused without sending (backpressure). */
  | 'NG_BUSY'
  /** An ng address that is not `udp:IP:PORT` / `udp6:[IP]:PORT`. */
  | 'NG_ADDRESS';

export class NgClientError extends GatewayError {
  declare readonly code: NgClientErrorCode;
  /** The reply dictionary for NG_REMOTE_ERROR. */
  readonly reply: BencodeDict | undefined;

  constructor(code: NgClientErrorCode, message: string, reply?: BencodeDict) {
    super(code, message);
    this.reply = reply;
  }
}
