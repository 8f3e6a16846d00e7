/**
 * The location service behind the registrar (RFC 3261 §10.3): bindings of an address-of-record to contacts.
 * Pure state with an injectable clock; the registrar (registrar.ts) turns REGISTER requests into calls here.
 *
 * Bindings are keyed per RFC 5626 §6 by (AOR, +sip.instance, reg-id) when the contact carries both — a browser
 * re-registering over a new WebSocket replaces its old flow instead of leaving a dead binding behind — and by
 * Contact URI otherwise (RFC 3261 §10.3 step 7). Each binding remembers the flow (connection) it arrived on:
 * requests to a browser can only go back over that WebSocket, and the binding dies with it.
 */

export interface ContactInput {
  /** The Contact URI as the client wrote it (used to reach it and to compare bindings). */
  uri: string;
  /** The whole Contact value without an `expires` parameter, echoed in the 200 OK with its parameters intact. */
  value: string;
  /** The Contact's `expires` parameter, when present. */
  expires: number | undefined;
  instanceId: string | undefined;
  regId: number | undefined;
}

export interface Binding {
  aor: string;
  user: string;
  uri: string;
  value: string;
  instanceId: string | undefined;
  regId: number | undefined;
  callId: string;
  cseq: number;
  expiresAt: number;
  flowId: string;
  userAgent: string | undefined;
}

export interface RegisterInput {
  aor: string;
  user: string;
  callId: string;
  cseq: number;
  /** `*` wildcard (RFC 3261 §10.2.2) — remove every binding of the AOR. */
  wildcard: boolean;
  contacts: ContactInput[];
  /** The request's Expires header, when present. */
  expiresHeader: number | undefined;
  flowId: string;
  userAgent: string | undefined;
}

export type RegisterOutcome =
  | { ok: true; bindings: Binding[]; added: Binding[]; removed: Binding[] }
  | { ok: false; status: 400 | 423 | 500 | 503; reason: string; minExpires?: number };

export interface LocationServiceOptions {
  defaultExpires?: number;
  minExpires?: number;
  maxExpires?: number;
  maxBindingsPerAor?: number;
  now?: () => number;
}

export class LocationService {
  readonly #byAor = new Map<string, Binding[]>();
  readonly #defaultExpires: number;
  readonly #minExpires: number;
  readonly #maxExpires: number;
  readonly #maxBindings: number;
  readonly #now: () => number;

  constructor(options: LocationServiceOptions = {}) {
    this.#defaultExpires = options.defaultExpires ?? 600;
    this.#minExpires = options.minExpires ?? 60;
    this.#maxExpires = options.maxExpires ?? 3600;
    this.#maxBindings = options.maxBindingsPerAor ?? 10;
    this.#now = options.now ?? Date.now;
  }

  get minExpires(): number {
    return this.#minExpires;
  }

  /** Applies one REGISTER atomically: on any error nothing changes. */
  register(input: RegisterInput): RegisterOutcome {
    const now = this.#now();
    const current = this.lookup(input.aor);
    if (input.wildcard) {
      // §10.3 step 6: `*` only with Expires: 0 and no other Contact.
      if (input.contacts.length > 0 || input.expiresHeader !== 0) {
        return { ok: false, status: 400, reason: 'Wildcard Contact requires Expires: 0 and no other Contact' };
      }
      for (const b of current) {
        if (b.callId === input.callId && input.cseq <= b.cseq) return { ok: false, status: 500, reason: 'Out of order CSeq' };
      }
      this.#byAor.delete(input.aor);
      return { ok: true, bindings: [], added: [], removed: current };
    }

    const next = current.slice();
    const added: Binding[] = [];
    const removed: Binding[] = [];
    for (const contact of input.contacts) {
      let expires = contact.expires ?? input.expiresHeader ?? this.#defaultExpires;
      // §10.3 step 7: a non-zero expiry below the minimum is refused with 423 and Min-Expires.
      if (expires > 0 && expires < this.#minExpires) {
        return { ok: false, status: 423, reason: 'Interval Too Brief', minExpires: this.#minExpires };
      }
      expires = Math.min(expires, this.#maxExpires);
      const at = next.findIndex((b) => sameBinding(b, contact));
      const existing = at === -1 ? undefined : next[at];
      if (existing && existing.callId === input.callId && input.cseq <= existing.cseq) {
        return { ok: false, status: 500, reason: 'Out of order CSeq' };
      }
      if (expires === 0) {
        if (existing) {
          next.splice(at, 1);
          removed.push(existing);
        }
        continue;
      }
      const binding: Binding = {
        aor: input.aor,
        user: input.user,
        uri: contact.uri,
        value: contact.value,
        instanceId: contact.instanceId,
        regId: contact.regId,
        callId: input.callId,
        cseq: input.cseq,
        expiresAt: now + expires * 1000,
        flowId: input.flowId,
        userAgent: input.userAgent,
      };
      if (existing) {
        next[at] = binding;
        if (existing.flowId !== binding.flowId) removed.push(existing);
      } else {
        next.push(binding);
        added.push(binding);
      }
    }
    if (next.length > this.#maxBindings) return { ok: false, status: 503, reason: 'Too many registrations for this user' };
    if (next.length === 0) this.#byAor.delete(input.aor);
    else this.#byAor.set(input.aor, next);
    return { ok: true, bindings: next, added, removed };
  }

  /** Live bindings of an AOR, newest registration last. */
  lookup(aor: string): Binding[] {
    const list = this.#byAor.get(aor);
    if (!list) return [];
    const now = this.#now();
    const live = list.filter((b) => b.expiresAt > now);
    if (live.length !== list.length) {
      if (live.length === 0) this.#byAor.delete(aor);
      else this.#byAor.set(aor, live);
    }
    return live;
  }

  /** Removes every binding that arrived over a flow that just closed (a WebSocket went away). */
  removeFlow(flowId: string): Binding[] {
    const removed: Binding[] = [];
    for (const [aor, list] of this.#byAor) {
      const keep = list.filter((b) => b.flowId !== flowId);
      if (keep.length === list.length) continue;
      removed.push(...list.filter((b) => b.flowId === flowId));
      if (keep.length === 0) this.#byAor.delete(aor);
      else this.#byAor.set(aor, keep);
    }
    return removed;
  }

  /** Drops expired bindings; returns them so the caller can log. */
  sweep(): Binding[] {
    const now = this.#now();
    const expired: Binding[] = [];
    for (const [aor, list] of this.#byAor) {
      const keep = list.filter((b) => b.expiresAt > now);
      if (keep.length === list.length) continue;
      expired.push(...list.filter((b) => b.expiresAt <= now));
      if (keep.length === 0) this.#byAor.delete(aor);
      else this.#byAor.set(aor, keep);
    }
    return expired;
  }

  get size(): number {
    let n = 0;
    for (const list of this.#byAor.values()) n += list.length;
    return n;
  }

  clear(): void {
    this.#byAor.clear();
  }
}

function sameBinding(b: Binding, c: ContactInput): boolean {
  if (b.instanceId !== undefined && c.instanceId !== undefined) {
    return b.instanceId === c.instanceId && b.regId === c.regId;
  }
  return b.uri === c.uri;
}
