/**
 * Where in-dialog traffic finds its session: requests with a To tag (RFC 3261 §12.2.2), ACKs for 2xx responses
 * (§13.3.1.4), CANCELs (§9.2) and 2xx retransmissions that outlived their client transaction (§13.2.2.4).
 *
 * Keys are the dialog identifiers seen from our side — Call-ID, local tag, remote tag (§12) — so an early
 * dialog is found as soon as it exists: a UAS session files its dialog when it is made (its tag is in every
 * response it sends), a UAC session files one early dialog per fork that answered with a To tag.
 *
 * The owner's SipTransactionUser hands everything over:
 *
 *   onRequest(req, tx)    → if (table.dispatchRequest(req, tx) !== 'out-of-dialog') return; … a new INVITE …
 *   onAck(ack)            → table.dispatchAck(ack)
 *   onCancel(c, ctx, inv) → table.dispatchCancel(c, ctx, inv)
 *   onStrayResponse(res)  → table.dispatchStrayResponse(res)
 */
import { createResponseTo, type SipRequest, type SipResponse } from '../signaling/message.ts';
import type { InviteServerTransaction } from '../signaling/transaction/invite-server-transaction.ts';
import type { NonInviteServerTransaction } from '../signaling/transaction/non-invite-server-transaction.ts';
import type { ServerTransaction } from '../signaling/transaction/transaction-layer.ts';
import { dialogKey, newTag, tagOf } from './dialog.ts';
import { logger } from '../log.ts';

const log = logger.child({ module: 'dialog-table' });

/** What the table needs of a session (InviteServerSession and InviteClientSession implement it). */
export interface DialogMember {
  /** The tag we put in our To (UAS) or From (UAC): CANCEL's 200 carries the same To tag as the INVITE's responses (§9.2). */
  readonly localTag: string;
  /** The flow the session talks over, when it is bound to one (a browser's WebSocket). */
  readonly flowId: string | undefined;
  receiveRequest(request: SipRequest, transaction: ServerTransaction): void;
  receiveAck(ack: SipRequest): void;
  /** §9.2; true when the INVITE was still pending and is now answered 487. */
  receiveCancel(cancel: SipRequest): boolean;
  receiveStrayResponse(response: SipResponse): void;
}

/** `dialog`: a session took it; `no-dialog`: answered 481 here; `out-of-dialog`: no To tag, the owner's to handle. */
export type DispatchResult = 'dialog' | 'no-dialog' | 'out-of-dialog';

export interface DialogTableOptions {
  /** Server header on the responses the table sends itself (481, CANCEL's 200, 487). */
  userAgent?: string;
}

export interface DialogTableCounts {
  dialogs: number;
  invites: number;
  uac: number;
}

export class DialogTable {
  readonly #dialogs = new Map<string, DialogMember>();
  readonly #invites = new Map<InviteServerTransaction, DialogMember>();
  /** UAC sessions by Call-ID and From tag: every 2xx of any fork belongs to them (§13.2.2.4). */
  readonly #uac = new Map<string, DialogMember>();
  readonly #userAgent: string | undefined;
  /** Responses the table sent itself, by status. */
  readonly answered: Record<number, number> = {};

  constructor(options: DialogTableOptions = {}) {
    this.#userAgent = options.userAgent;
  }

  get counts(): DialogTableCounts {
    return { dialogs: this.#dialogs.size, invites: this.#invites.size, uac: this.#uac.size };
  }

  /** Entries of every kind; 0 once every session is closed (leak checks). */
  get size(): number {
    return this.#dialogs.size + this.#invites.size + this.#uac.size;
  }

  // ---- registration (sessions call these) ------------------------------------------------------------------

  addDialog(callId: string, localTag: string, remoteTag: string, member: DialogMember): void {
    this.#dialogs.set(dialogKey(callId, localTag, remoteTag), member);
  }

  deleteDialog(callId: string, localTag: string, remoteTag: string, member: DialogMember): void {
    const key = dialogKey(callId, localTag, remoteTag);
    if (this.#dialogs.get(key) === member) this.#dialogs.delete(key);
  }

  addInvite(transaction: InviteServerTransaction, member: DialogMember): void {
    this.#invites.set(transaction, member);
  }

  deleteInvite(transaction: InviteServerTransaction, member: DialogMember): void {
    if (this.#invites.get(transaction) === member) this.#invites.delete(transaction);
  }

  addUac(callId: string, localTag: string, member: DialogMember): void {
    this.#uac.set(uacKey(callId, localTag), member);
  }

  deleteUac(callId: string, localTag: string, member: DialogMember): void {
    const key = uacKey(callId, localTag);
    if (this.#uac.get(key) === member) this.#uac.delete(key);
  }

  // ---- lookups ---------------------------------------------------------------------------------------------

  find(callId: string, localTag: string, remoteTag: string): DialogMember | undefined {
    return this.#dialogs.get(dialogKey(callId, localTag, remoteTag));
  }

  /** The session of an in-dialog request or ACK: its To tag is ours, its From tag the peer's. */
  findFor(request: SipRequest): DialogMember | undefined {
    const callId = request.headers.get('call-id');
    const local = tagOf(request.headers.get('to'));
    const remote = tagOf(request.headers.get('from'));
    if (callId === undefined || local === undefined || remote === undefined) return undefined;
    return this.find(callId, local, remote);
  }

  /** The session whose INVITE server transaction this is (CANCEL matching). */
  findInvite(transaction: InviteServerTransaction): DialogMember | undefined {
    return this.#invites.get(transaction);
  }

  /** Sessions bound to a flow: when a browser's WebSocket closes, its calls are over. */
  sessionsOnFlow(flowId: string): DialogMember[] {
    const found = new Set<DialogMember>();
    for (const member of [...this.#dialogs.values(), ...this.#invites.values(), ...this.#uac.values()]) {
      if (member.flowId === flowId) found.add(member);
    }
    return [...found];
  }

  // ---- dispatch --------------------------------------------------------------------------------------------

  /**
   * §12.2.2: a request with a To tag goes to its dialog; "If the UAS … does not find a matching dialog … it
   * SHOULD reply with a 481 (Call/Transaction Does Not Exist)". Requests without a To tag are the owner's.
   */
  dispatchRequest(request: SipRequest, transaction: ServerTransaction): DispatchResult {
    if (tagOf(request.headers.get('to')) === undefined) return 'out-of-dialog';
    const member = this.findFor(request);
    if (member === undefined) {
      log.debug({ callId: request.headers.get('call-id'), method: request.method }, 'in-dialog request for no dialog');
      this.#respond(transaction, request, 481);
      return 'no-dialog';
    }
    member.receiveRequest(request, transaction);
    return 'dialog';
  }

  /** An ACK for a 2xx (the transaction layer sends only those, and late ones, here). False when nobody took it. */
  dispatchAck(ack: SipRequest): boolean {
    const member = this.findFor(ack);
    if (member === undefined) return false;
    member.receiveAck(ack);
    return true;
  }

  /**
   * §9.2: "If the UAS did not find a matching transaction for the CANCEL …, it SHOULD respond to the CANCEL with
   * a 481"; otherwise the CANCEL gets 200 whatever the INVITE's state ("the CANCEL has no effect" on an answered
   * INVITE), with "the same To tag as the response to the original request", and a pending INVITE 487. An INVITE
   * whose session the owner has not made yet (it was still deciding) gets the 487 from here.
   */
  dispatchCancel(cancel: SipRequest, cancelTransaction: NonInviteServerTransaction, target: InviteServerTransaction | undefined): void {
    if (target === undefined) {
      this.#respond(cancelTransaction, cancel, 481);
      return;
    }
    const member = this.#invites.get(target);
    const toTag = member?.localTag ?? tagOf(target.lastResponse?.headers.get('to')) ?? newTag();
    this.#respond(cancelTransaction, cancel, 200, toTag);
    if (member !== undefined) {
      member.receiveCancel(cancel);
    } else if (target.finalResponse === undefined && !target.terminated) {
      this.#respond(target, target.request, 487, toTag);
    }
  }

  /** A response no client transaction took: a 2xx retransmission for a UAC session (re-ACK, or ACK+BYE a fork). */
  dispatchStrayResponse(response: SipResponse): boolean {
    const callId = response.headers.get('call-id');
    const local = tagOf(response.headers.get('from'));
    if (callId === undefined || local === undefined) return false;
    const member = this.#uac.get(uacKey(callId, local)) ?? this.find(callId, local, tagOf(response.headers.get('to')) ?? '');
    if (member === undefined) return false;
    member.receiveStrayResponse(response);
    return true;
  }

  #respond(transaction: ServerTransaction, request: SipRequest, status: number, toTag: string = newTag()): void {
    const response = createResponseTo(request, status, undefined, toTag);
    if (this.#userAgent !== undefined) response.headers.append('Server', this.#userAgent);
    this.answered[status] = (this.answered[status] ?? 0) + 1;
    try {
      transaction.respond(response);
    } catch (err) {
      log.warn({ err, status }, 'could not send a dialog-table response');
    }
  }
}

function uacKey(callId: string, localTag: string): string {
  return `${callId}\n${localTag.toLowerCase()}`;
}
