/**
 * REGISTER as JsSIP's Registrator.js sends it: one Call-ID for the phone's life and a CSeq counting up from 1,
 * a new From tag per request, the Contact `<contact>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:…>";expires=N`
 * with `Expires: N`, one 401/407 answered (a second one when it says stale=true), a 423 retried once with its
 * Min-Expires (RFC 3261 §10.2.8), and our binding looked up in the 2xx by +sip.instance or by URI.
 */
import type { SipResponse } from '../../src/signaling/message.ts';
import { contacts } from '../../src/signaling/header-accessors.ts';
import { buildRequest, newTag, randomToken } from './jssip-wire.ts';
import type { PhoneContext } from './phone-context.ts';
import { rejected, TestPhoneError } from './phone-errors.ts';

export interface Registration {
  /** The expiry the registrar granted for our Contact. */
  expires: number;
  response: SipResponse;
}

export class Registrator {
  readonly #phone: PhoneContext;
  readonly #instanceId: string;
  readonly #callId = randomToken(22);
  #cseq = 0;

  constructor(phone: PhoneContext, instanceId: string) {
    this.#phone = phone;
    this.#instanceId = instanceId;
  }

  /** The Contact of our REGISTER, without expires. */
  get contact(): string {
    return `<${this.#phone.identity.contactUri}>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:${this.#instanceId}>"`;
  }

  async register(expires: number, retried423 = false): Promise<Registration> {
    const response = await this.#send(expires);
    const minExpires = Number(response.headers.get('min-expires'));
    if (response.status === 423 && !retried423 && Number.isInteger(minExpires) && minExpires > 0) return this.register(minExpires, true);
    if (response.status >= 300) throw rejected(response.status, response.reason, 'REGISTER');
    const list = contacts(response);
    const ours = list === '*' ? undefined : list.find((c) =>
      c.params.get('+sip.instance') === `"<urn:uuid:${this.#instanceId}>"` || c.uri === this.#phone.identity.contactUri);
    if (!ours) throw new TestPhoneError('PHONE_PROTOCOL', `${response.status} to REGISTER does not list our Contact`);
    return { expires: ours.expires ?? Number(response.headers.get('expires') ?? expires), response };
  }

  async unregister(): Promise<SipResponse> {
    const response = await this.#send(0);
    if (response.status >= 300) throw rejected(response.status, response.reason, 'un-REGISTER');
    return response;
  }

  async #send(expires: number): Promise<SipResponse> {
    const { identity } = this.#phone;
    let credentials: [string, string] | undefined;
    let challenged = false;
    let staled = false;
    const fromTag = newTag();
    for (;;) {
      const request = buildRequest({
        method: 'REGISTER', uri: `sip:${identity.domain}`, via: this.#phone.newVia().via,
        to: `<${identity.aor}>`, from: `<${identity.aor}>;tag=${fromTag}`, callId: this.#callId, cseq: ++this.#cseq,
        headers: [...(credentials ? [credentials] : []), ['Contact', `${this.contact};expires=${expires}`], ['Expires', String(expires)]],
        userAgent: identity.userAgent,
      });
      const response = await this.#phone.sendRequest(request);
      if (response.status === 401 || response.status === 407) {
        const answer = this.#phone.credentials(response, 'REGISTER', request.uri);
        if (answer && (!challenged || (!staled && answer.stale))) {
          challenged = true;
          staled ||= answer.stale;
          credentials = answer.header;
          continue;
        }
      }
      return response;
    }
  }
}
