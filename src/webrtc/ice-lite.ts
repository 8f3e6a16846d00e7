import { randomBytes } from 'node:crypto';
import { TokenBucket } from './token-bucket.ts';
import {
  encodeBindingError,
  encodeBindingSuccess,
  ipToBytes,
  parseStun,
  STUN_BINDING,
  StunClass,
  StunView,
  verifyMessageIntegrity,
} from './stun.ts';

/**
 * An ICE-lite agent (RFC 8445 §2.5, §6.2, §7.3.2, §8.2) for one component on one socket: pure logic plus a
 * `send` callback and one consent timer.
 *
 * Why lite: the gateway sits on an address the operator configured and advertises (public, or reachable from
 * the browsers), so it never needs to gather server-reflexive/relayed candidates or punch holes itself. The
 * browser (a full agent) is controlling (RFC 8445 §6.1.1), sends the connectivity checks, and nominates with
 * USE-CANDIDATE; we answer, authenticate, and send media to the source of the nominated check (§7.3.2). That
 * is the whole state machine — no checklists, no pacing, no triggered checks.
 *
 * Credential failures: RFC 5389 §10.1.2 says a request without USERNAME/MESSAGE-INTEGRITY gets 400 and one with
 * an unknown username or a bad HMAC gets 401, without MESSAGE-INTEGRITY. We do send those (they tell a
 * misconfigured peer what is wrong, and are smaller than the request so they cannot amplify), but through a
 * token bucket: past `errorResponsesPerSecond` a failing request is dropped silently. A failing FINGERPRINT is
 * always a silent discard (RFC 5389 §7.3). The order of checks keeps a flood cheap: CRC-32 first, USERNAME
 * compared byte-wise, HMAC only for requests naming our current ufrag.
 *
 * Consent (RFC 7675): a lite agent sends no checks of its own (RFC 7675 §1); the browser refreshes consent every
 * ~5 s with checks on the selected pair. If no authenticated check arrives from the selected address for
 * `consentTimeoutMs` (30 s, RFC 7675 §5.1) consent is lost: state `failed`, the owner stops sending. Consent is
 * not re-established on that pair; only an ICE restart (new credentials) brings the agent back to `new`.
 *
 * Replay: STUN short-term credentials have no replay protection (RFC 5389 §10.1). A captured, valid nominating
 * check replayed from an attacker's address would move the selected pair; we remember recent transaction IDs
 * with their source and drop a known transaction ID that arrives from a different address.
 */

export interface IceCredentials {
  readonly ufrag: string;
  readonly pwd: string;
}

export interface TransportAddress {
  readonly address: string;
  readonly port: number;
}

export type IceLiteState = 'new' | 'connected' | 'failed' | 'closed';

export interface IceLiteAgentOptions {
  /** Sends a STUN response to the given remote transport address (the agent never sends requests). */
  send: (packet: Buffer, port: number, address: string) => void;
  /** The nominated pair was chosen or moved (network change): media now goes to `remote`. */
  onSelected: (remote: TransportAddress) => void;
  /** RFC 7675: consent expired on the selected pair. */
  onConsentLost: () => void;
  consentTimeoutMs?: number;
  successResponsesPerSecond?: number;
  errorResponsesPerSecond?: number;
  now?: () => number;
}

export interface IceLiteStats {
  stunReceived: number;
  stunDiscarded: number;
  checksReceived: number;
  checksAuthenticated: number;
  checksRejected: number;
  responsesRateLimited: number;
  replaysDropped: number;
  roleConflicts: number;
  keepalives: number;
  nominations: number;
  consentExpiries: number;
  restarts: number;
}

/** RFC 7675 §5.1: consent expires after 30 seconds without a successful check. */
export const CONSENT_TIMEOUT_MS = 30_000;
const MAX_VALIDATED = 8;
const RECENT_TRANSACTIONS = 32;

interface Generation {
  readonly ufrag: string;
  readonly pwd: string;
  /** `ufrag:`, compared byte-wise against the start of USERNAME (RFC 8445 §7.3). */
  readonly usernamePrefix: Buffer;
  readonly key: Buffer;
  remoteUfrag: Buffer | undefined;
}

/** RFC 8445 §5.3: ufrag ≥ 24 bits and pwd ≥ 128 bits of randomness; base64 characters are exactly ice-char (RFC 8839 §5.4). */
export function generateIceCredentials(): IceCredentials {
  return { ufrag: randomBytes(6).toString('base64'), pwd: randomBytes(18).toString('base64') };
}

function generation(credentials: IceCredentials): Generation {
  return {
    ufrag: credentials.ufrag,
    pwd: credentials.pwd,
    usernamePrefix: Buffer.from(`${credentials.ufrag}:`, 'utf8'),
    key: Buffer.from(credentials.pwd, 'utf8'),
    remoteUfrag: undefined,
  };
}

export class IceLiteAgent {
  readonly stats: IceLiteStats = {
    stunReceived: 0,
    stunDiscarded: 0,
    checksReceived: 0,
    checksAuthenticated: 0,
    checksRejected: 0,
    responsesRateLimited: 0,
    replaysDropped: 0,
    roleConflicts: 0,
    keepalives: 0,
    nominations: 0,
    consentExpiries: 0,
    restarts: 0,
  };

  readonly #options: IceLiteAgentOptions;
  readonly #consentTimeoutMs: number;
  readonly #now: () => number;
  readonly #view = new StunView();
  readonly #successBucket: TokenBucket;
  readonly #errorBucket: TokenBucket;
  #current: Generation;
  /** The generation before an ICE restart, accepted for consent until the peer uses the new one (RFC 8445 §9). */
  #previous: Generation | undefined;
  #remote: IceCredentials | undefined;
  #localRestartPending = false;
  #state: IceLiteState = 'new';
  #selected: TransportAddress | undefined;
  readonly #validated: TransportAddress[] = [];
  #lastConsentAt = 0;
  #consentTimer: NodeJS.Timeout | undefined;
  readonly #recent: Array<{ id: string; address: string; port: number }> = [];

  constructor(options: IceLiteAgentOptions) {
    this.#options = options;
    this.#consentTimeoutMs = options.consentTimeoutMs ?? CONSENT_TIMEOUT_MS;
    this.#now = options.now ?? (() => performance.now());
    this.#successBucket = new TokenBucket(options.successResponsesPerSecond ?? 100, options.successResponsesPerSecond ?? 100, this.#now);
    this.#errorBucket = new TokenBucket(options.errorResponsesPerSecond ?? 10, options.errorResponsesPerSecond ?? 10, this.#now);
    this.#current = generation(generateIceCredentials());
  }

  get state(): IceLiteState {
    return this.#state;
  }

  get localCredentials(): IceCredentials {
    return { ufrag: this.#current.ufrag, pwd: this.#current.pwd };
  }

  get remoteCredentials(): IceCredentials | undefined {
    return this.#remote;
  }

  /** The nominated pair's remote address (RFC 8445 §7.3.2), where media is sent. */
  get selected(): TransportAddress | undefined {
    return this.#selected;
  }

  /** The most recent remote address that passed an authenticated check (used before nomination, for DTLS only). */
  get lastValidated(): TransportAddress | undefined {
    return this.#validated[this.#validated.length - 1];
  }

  /** Whether this source has passed an authenticated connectivity check in the current ICE session. */
  isValidated(address: string, port: number): boolean {
    for (const v of this.#validated) if (v.port === port && v.address === address) return true;
    return false;
  }

  /**
   * Applies the remote ice-ufrag/ice-pwd from an offer or answer. Changed credentials are an ICE restart
   * (RFC 8445 §9): unless we started it (`restartLocal`), we must change ours too, so the caller reads
   * `localCredentials` again for its answer. Media keeps flowing on the previously selected pair meanwhile.
   */
  setRemoteCredentials(remote: IceCredentials): 'initial' | 'unchanged' | 'restart' {
    if (this.#state === 'closed') return 'unchanged';
    if (this.#remote === undefined) {
      this.#remote = remote;
      this.#current.remoteUfrag = Buffer.from(remote.ufrag, 'utf8');
      return 'initial';
    }
    if (this.#remote.ufrag === remote.ufrag && this.#remote.pwd === remote.pwd) return 'unchanged';
    if (!this.#localRestartPending) this.#rotateLocal();
    this.#localRestartPending = false;
    this.#remote = remote;
    this.#current.remoteUfrag = Buffer.from(remote.ufrag, 'utf8');
    this.stats.restarts++;
    if (this.#state === 'failed') {
      // RFC 7675 §5.1: consent is not re-established on the expired pair; the restarted session starts afresh.
      this.#selected = undefined;
      this.#state = 'new';
    }
    this.#validated.length = 0;
    if (this.#selected !== undefined) this.#validated.push(this.#selected);
    return 'restart';
  }

  /** Starts an ICE restart from our side (before a re-offer): new local credentials (RFC 8445 §9). */
  restartLocal(): IceCredentials {
    this.#rotateLocal();
    this.#localRestartPending = true;
    return this.localCredentials;
  }

  #rotateLocal(): void {
    this.#previous = this.#current;
    this.#current = generation(generateIceCredentials());
  }

  /** Processes one datagram the demultiplexer classified as STUN. Never throws. */
  handleStun(buf: Buffer, address: string, port: number): void {
    if (this.#state === 'closed') return;
    this.stats.stunReceived++;
    const view = this.#view;
    if (parseStun(buf, view) !== 'ok' || view.method !== STUN_BINDING) {
      this.stats.stunDiscarded++;
      return;
    }
    if (view.messageClass === StunClass.Indication) {
      this.stats.keepalives++; // RFC 8445 §11 keepalive: unauthenticated, no effect on consent (RFC 7675 §5.1)
      return;
    }
    if (view.messageClass !== StunClass.Request) {
      this.stats.stunDiscarded++; // we never send requests, so responses are not ours
      return;
    }
    this.stats.checksReceived++;
    if (view.usernameOffset === -1 || view.integrityOffset === -1) {
      this.#reject(buf, 400, address, port);
      return;
    }
    const gen = this.#matchUsername(buf, this.#current) ? this.#current : this.#previous !== undefined && this.#matchUsername(buf, this.#previous) ? this.#previous : undefined;
    if (gen === undefined || !verifyMessageIntegrity(buf, view, gen.key)) {
      this.#reject(buf, 401, address, port);
      return;
    }
    this.stats.checksAuthenticated++;
    if (this.#isReplay(buf, address, port)) {
      this.stats.replaysDropped++;
      return;
    }
    if (view.unknownRequired.length > 0) {
      this.#respond(encodeBindingError(buf, 420, gen.key, view.unknownRequired), address, port, this.#errorBucket);
      return;
    }
    if (view.iceControlled) {
      // RFC 8445 §6.1.1: against a lite agent the full agent MUST be controlling. A peer claiming controlled is in
      // role conflict; we cannot switch (lite is always controlled), so we answer as the §7.3.1.1 agent whose
      // tiebreaker is lower: 487, and the peer switches to controlling.
      this.stats.roleConflicts++;
      this.#respond(encodeBindingError(buf, 487, gen.key), address, port, this.#errorBucket);
      return;
    }
    const ip = ipToBytes(address);
    if (ip !== undefined) this.#respond(encodeBindingSuccess(buf, ip, port, gen.key), address, port, this.#successBucket);
    this.#onAuthenticatedCheck(buf, gen, address, port);
  }

  #onAuthenticatedCheck(buf: Buffer, gen: Generation, address: string, port: number): void {
    if (gen === this.#current) this.#previous = undefined; // the peer has moved to the restarted session
    if (!this.isValidated(address, port)) {
      if (this.#validated.length >= MAX_VALIDATED) this.#validated.shift();
      this.#validated.push({ address, port });
    }
    const view = this.#view;
    // RFC 8445 §7.3.2: a lite agent accepting USE-CANDIDATE nominates the pair towards the request's source. A
    // later nomination from another address (the browser's network changed, libwebrtc renominates) moves it.
    // Only checks of the current ICE session whose remote ufrag is the one signalled may nominate.
    if (view.useCandidate && gen === this.#current && this.#state !== 'failed' && this.#remoteUfragMatches(buf, gen)) {
      this.#nominate(address, port);
    }
    const selected = this.#selected;
    if (selected !== undefined && this.#state === 'connected' && selected.port === port && selected.address === address) {
      this.#lastConsentAt = this.#now();
    }
  }

  #nominate(address: string, port: number): void {
    const selected = this.#selected;
    if (selected !== undefined && selected.port === port && selected.address === address && this.#state === 'connected') return;
    this.#selected = { address, port };
    this.stats.nominations++;
    this.#lastConsentAt = this.#now();
    this.#state = 'connected';
    if (this.#consentTimer === undefined) this.#consentTimer = setTimeout(this.#onConsentTimer, this.#consentTimeoutMs);
    this.#options.onSelected(this.#selected);
  }

  readonly #onConsentTimer = (): void => {
    this.#consentTimer = undefined;
    if (this.#state !== 'connected') return;
    const remaining = this.#lastConsentAt + this.#consentTimeoutMs - this.#now();
    if (remaining > 0) {
      this.#consentTimer = setTimeout(this.#onConsentTimer, remaining);
      return;
    }
    this.#state = 'failed';
    this.stats.consentExpiries++;
    this.#options.onConsentLost();
  };

  #matchUsername(buf: Buffer, gen: Generation): boolean {
    const view = this.#view;
    const prefix = gen.usernamePrefix;
    return view.usernameLength >= prefix.length && prefix.compare(buf, view.usernameOffset, view.usernameOffset + prefix.length) === 0;
  }

  #remoteUfragMatches(buf: Buffer, gen: Generation): boolean {
    const remote = gen.remoteUfrag;
    if (remote === undefined) return true; // RFC 8445 §7.3: checks may precede the peer's description
    const view = this.#view;
    const start = view.usernameOffset + gen.usernamePrefix.length;
    const end = view.usernameOffset + view.usernameLength;
    return end - start === remote.length && remote.compare(buf, start, end) === 0;
  }

  #isReplay(buf: Buffer, address: string, port: number): boolean {
    const id = buf.toString('hex', 8, 20);
    for (const entry of this.#recent) {
      if (entry.id === id) return entry.port !== port || entry.address !== address;
    }
    if (this.#recent.length >= RECENT_TRANSACTIONS) this.#recent.shift();
    this.#recent.push({ id, address, port });
    return false;
  }

  #reject(buf: Buffer, code: 400 | 401, address: string, port: number): void {
    this.stats.checksRejected++;
    // Bucket first: a flood past the cap costs no encoding at all.
    if (!this.#errorBucket.take()) {
      this.stats.responsesRateLimited++;
      return;
    }
    this.#options.send(encodeBindingError(buf, code), port, address);
  }

  #respond(packet: Buffer, address: string, port: number, bucket: TokenBucket): void {
    if (!bucket.take()) {
      this.stats.responsesRateLimited++;
      return;
    }
    this.#options.send(packet, port, address);
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#consentTimer !== undefined) clearTimeout(this.#consentTimer);
    this.#consentTimer = undefined;
  }
}
