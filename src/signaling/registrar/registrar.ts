/**
 * The registrar for browsers (RFC 3261 §10.3): authenticates REGISTER with digest, lets a user register only
 * its own address-of-record, and answers 200 OK listing every current binding with its parameters and remaining
 * `expires` — JsSIP finds its own binding in that list by +sip.instance/reg-id (or the Contact user) and never
 * becomes "registered" without it.
 */
import { randomBytes } from 'node:crypto';
import { createResponseTo, type SipRequest, type SipResponse } from '../message.ts';
import { callId as callIdOf, contacts, cseq, expires as expiresHeader, to } from '../header-accessors.ts';
import { isSipUri, parseUri, uriUserDecoded } from '../uri.ts';
import { serializeParams, unquote } from '../params.ts';
import type { DigestServer, Ha1Lookup } from '../auth/digest-server.ts';
import type { LocationService, ContactInput, Binding } from './location-service.ts';
import { SipParseError } from '../parse-error.ts';
import { logger } from '../../log.ts';

const log = logger.child({ module: 'registrar' });

export interface RegistrarOptions {
  location: LocationService;
  digest: DigestServer;
  lookup: Ha1Lookup;
  now?: () => number;
  /** Called after every failed authentication (brute-force accounting); `source` is the flow's remote address. */
  onAuthFailure?: (source: string, username: string | undefined) => void;
}

export interface RegisterContext {
  flowId: string;
  source: string;
  /** Whether the user was already authenticated by other means (a verified token on the WebSocket). */
  preAuthenticatedUser?: string;
}

export class Registrar {
  readonly #o: RegistrarOptions;
  readonly #now: () => number;

  constructor(options: RegistrarOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Handles a REGISTER and returns the response to send (never throws on bad input). */
  handle(request: SipRequest, ctx: RegisterContext): SipResponse {
    const tag = randomBytes(6).toString('hex');
    let user = ctx.preAuthenticatedUser;
    if (user === undefined) {
      const verdict = this.#o.digest.verify('REGISTER', request.headers.getAll('Authorization'), this.#o.lookup, request.body);
      if (!verdict.ok) {
        if (verdict.reason !== 'missing' && verdict.reason !== 'stale') this.#o.onAuthFailure?.(ctx.source, verdict.username);
        const res = createResponseTo(request, 401, 'Unauthorized', tag);
        for (const c of this.#o.digest.challenges(verdict.reason === 'stale')) res.headers.append('WWW-Authenticate', c);
        return res;
      }
      user = verdict.username;
    }

    let aorUser: string | undefined;
    let parsedContacts: ReturnType<typeof contacts>;
    let seq: number;
    let expiresValue: number | undefined;
    try {
      const toUri = parseUri(to(request).uri);
      aorUser = isSipUri(toUri) ? uriUserDecoded(toUri) : undefined;
      parsedContacts = contacts(request);
      seq = cseq(request).seq;
      expiresValue = expiresHeader(request);
    } catch (err) {
      const reason = err instanceof SipParseError ? err.message : 'Bad Request';
      return createResponseTo(request, 400, reason, tag);
    }
    // §10.3 step 5/6: the authenticated user may only touch its own bindings.
    if (aorUser !== user) return createResponseTo(request, 403, 'Forbidden', tag);

    const aor = `sip:${user}@${this.#o.digest.realm}`;
    if (parsedContacts !== '*' && parsedContacts.length === 0) {
      return this.#ok(request, tag, this.#o.location.lookup(aor)); // a query (§10.2.3)
    }
    const inputs: ContactInput[] =
      parsedContacts === '*'
        ? []
        : parsedContacts.map((c) => {
            const params = new Map(c.params);
            params.delete('expires');
            const regId = params.get('reg-id');
            const instance = params.get('+sip.instance');
            const display = c.displayName === undefined ? '' : `"${c.displayName.replace(/(["\\])/g, '\\$1')}" `;
            return {
              uri: c.uri,
              value: `${display}<${c.uri}>${serializeParams(params)}`,
              expires: c.expires,
              instanceId: instance === undefined || instance === null ? undefined : unquote(instance),
              regId: regId === undefined || regId === null || !/^\d{1,9}$/.test(regId) ? undefined : Number(regId),
            };
          });
    const outcome = this.#o.location.register({
      aor,
      user,
      callId: callIdOf(request),
      cseq: seq,
      wildcard: parsedContacts === '*',
      contacts: inputs,
      expiresHeader: expiresValue,
      flowId: ctx.flowId,
      userAgent: request.headers.get('User-Agent'),
    });
    if (!outcome.ok) {
      const res = createResponseTo(request, outcome.status, outcome.reason, tag);
      if (outcome.minExpires !== undefined) res.headers.append('Min-Expires', String(outcome.minExpires));
      return res;
    }
    for (const b of outcome.added) log.info({ user, contact: b.uri, flowId: b.flowId, callId: b.callId }, 'registered');
    for (const b of outcome.removed) log.info({ user, contact: b.uri, flowId: b.flowId, callId: b.callId }, 'unregistered');
    return this.#ok(request, tag, outcome.bindings);
  }

  #ok(request: SipRequest, tag: string, bindings: readonly Binding[]): SipResponse {
    const res = createResponseTo(request, 200, 'OK', tag);
    const now = this.#now();
    for (const b of bindings) res.headers.append('Contact', `${b.value};expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`);
    // RFC 5626 §6: a registrar that kept a reg-id binding says so.
    if (bindings.some((b) => b.regId !== undefined)) res.headers.append('Require', 'outbound');
    res.headers.append('Date', new Date(now).toUTCString());
    return res;
  }
}
