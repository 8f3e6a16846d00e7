import { GatewayError } from '../../errors.ts';

/**
 * A transaction was asked to do something its state machine does not allow (an illegal `transition`), or the
 * TU passed something a transaction cannot carry (a response status outside 100–699, an ACK to `sendRequest`).
 * These are programming errors on our side of the wire, never caused by network input: the receive paths of the
 * transaction layer drop odd network messages instead of throwing.
 */
export class TransactionError extends GatewayError {
  constructor(code: TransactionErrorCode, message: string) {
    super(code, message, { status: 500 });
  }
}

export type TransactionErrorCode =
  | 'SIP_TRANSACTION_STATE'
  | 'SIP_TRANSACTION_REQUEST'
  | 'SIP_TRANSACTION_RESPONSE'
  | 'SIP_TRANSACTION_EXISTS'
  | 'SIP_TRANSACTION_CLOSED';
