/**
 * Requests the test phone sends inside a dialog (RFC 3261 §12.2.1), JsSIP's Dialog/RequestSender.js behaviour:
 * one 401/407 answered with credentials and the CSeq advanced (§22.2, §8.1.3.5), and for a re-INVITE every 2xx
 * ACKed — its retransmissions too (§13.2.2.4) — with a 2xx Contact refreshing the remote target (§12.2.1.2).
 * The INVITE transactions are kept for the call to close a little after it ended.
 */
import type { SipRequest, SipResponse } from '../../src/signaling/message.ts';
import { cseq } from '../../src/signaling/header-accessors.ts';
import type { HeaderList } from './jssip-wire.ts';
import type { InviteTransaction, PhoneContext } from './phone-context.ts';
import { contactUri, type SipDialog } from './sip-dialog.ts';
import { TestPhoneError, withTimeout } from './phone-errors.ts';

export class DialogRequests {
  readonly #phone: PhoneContext;
  readonly #dialog: () => SipDialog | undefined;
  readonly #transactions: InviteTransaction[] = [];
  /** 2xx to our re-INVITEs received again (and ACKed again). */
  okRetransmissionsReceived = 0;

  constructor(phone: PhoneContext, dialog: () => SipDialog | undefined) {
    this.#phone = phone;
    this.#dialog = dialog;
  }

  /** A non-INVITE request; resolves with its final response. */
  send(method: string, headers: HeaderList = [], body?: string): Promise<SipResponse> {
    return this.#withCredentials(method, (credentials) => {
      const request = this.#require(method).request(method, {
        via: this.#phone.newVia().via, headers: credentials ? [credentials, ...headers] : headers,
        userAgent: this.#phone.identity.userAgent, ...(body === undefined ? {} : { body }),
      });
      return { request, response: this.#phone.sendRequest(request) };
    });
  }

  /** A re-INVITE carrying `offer`, `headers` after the credentials; resolves with the final response. */
  reinvite(offer: string, headers: HeaderList): Promise<SipResponse> {
    return this.#withCredentials('INVITE', (credentials) => {
      const request = this.#require('re-INVITE').request('INVITE', {
        via: this.#phone.newVia().via, headers: credentials ? [credentials, ...headers] : headers,
        body: offer, userAgent: this.#phone.identity.userAgent,
      });
      return { request, response: withTimeout(this.#inviteTransaction(request), this.#phone.timeoutMs, 're-INVITE') };
    });
  }

  /** Keeps an INVITE transaction (the initial one too) to close later. */
  track(transaction: InviteTransaction): void {
    this.#transactions.push(transaction);
  }

  closeTransactions(): void {
    for (const transaction of this.#transactions) transaction.close();
  }

  async #withCredentials(method: string, attempt: (credentials: [string, string] | undefined) => { request: SipRequest; response: Promise<SipResponse> }): Promise<SipResponse> {
    let credentials: [string, string] | undefined;
    let challenged = false;
    for (;;) {
      const { request, response: pending } = attempt(credentials);
      const response = await pending;
      if ((response.status === 401 || response.status === 407) && !challenged) {
        const answer = this.#phone.credentials(response, method, request.uri);
        if (answer) {
          challenged = true;
          credentials = answer.header;
          continue;
        }
      }
      return response;
    }
  }

  #inviteTransaction(request: SipRequest): Promise<SipResponse> {
    return new Promise((resolve) => {
      let ack: SipRequest | undefined;
      this.track(this.#phone.sendInvite(request, (response) => {
        if (response.status < 200) return;
        if (response.status >= 300) return resolve(response); // ACKed by the transaction (§17.1.1.3)
        const dialog = this.#dialog();
        if (!dialog) return resolve(response);
        if (ack === undefined) {
          if (response.headers.has('contact')) dialog.remoteTarget = contactUri(response);
          ack = dialog.request('ACK', { via: this.#phone.newVia().via, cseq: cseq(request).seq, userAgent: this.#phone.identity.userAgent });
          resolve(response);
        } else {
          this.okRetransmissionsReceived++;
        }
        try {
          this.#phone.send(ack);
        } catch { /* transport closed */ }
      }));
    });
  }

  #require(what: string): SipDialog {
    const dialog = this.#dialog();
    if (!dialog) throw new TestPhoneError('PHONE_STATE', `${what} needs a dialog`);
    return dialog;
  }
}
