/**
 * Symmetric RTP latching (a.k.a. "comedia", RFC 4961 symmetric RTP; the behaviour of rtpengine and Asterisk's
 * `rtp_symmetric`) as a pure state machine: no sockets, no timers. The leg feeds it the source of every received
 * packet and asks it where to send.
 *
 * Why: a peer behind NAT advertises its private address in SDP (c=IN IP4 10.x…); the only address that reaches it
 * is the public mapping its packets arrive from. So the SDP address is only a first guess; the first packet that
 * parses as RTP (version 2, not junk) fixes the target. After that, with `strictSource`, packets from any other
 * source are dropped and counted: that is the mitigation for "RTP Bleed" (CVE-2017-14099 style injection, where a
 * stranger who guesses the port would otherwise be relayed or even latched on to). The latch moves again only when
 * the signalling says the media may have moved (`relearn()`, called on every new offer/answer), or, with
 * `handover`, on any valid packet from a new source (mobile clients changing networks; off by default because
 * it reopens the injection hole).
 */

export type LatchMode =
  | 'latch' // learn the peer's address from its packets (default)
  | 'trust-sdp'; // send to the SDP address, never learn (peers on the public Internet, or a trusted core)

export interface LatchOptions {
  readonly mode?: LatchMode;
  /** Default true: once latched (or, with 'trust-sdp', always), drop packets from any other source. */
  readonly strictSource?: boolean;
  /** Default false: re-latch on a valid packet from a new source even after latching. */
  readonly handover?: boolean;
  /**
   * Default true: before anything was heard, send to the SDP address. False: stay silent until latched, for
   * deployments where every peer is behind NAT and the SDP address is never reachable.
   */
  readonly sendBeforeLatch?: boolean;
}

export type LatchState = 'learning' | 'latched' | 'trusting';

export class Latch {
  readonly mode: LatchMode;
  readonly strictSource: boolean;
  readonly handover: boolean;
  readonly sendBeforeLatch: boolean;

  /** Where to send; '' and 0 when there is no usable target (nothing in SDP, port 0, and nothing heard). */
  targetAddress = '';
  targetPort = 0;
  /** Packets dropped because they came from a source other than the latched (or trusted) one. */
  strangerDrops = 0;
  /** How many times the target moved because of a received packet (first latch included). */
  latches = 0;

  #state: LatchState;
  #sdpAddress = '';
  #sdpAddressMapped = ''; // the same IPv4 address as a udp6 socket reports it (::ffff:a.b.c.d)
  #sdpPort = 0;

  constructor(options: LatchOptions = {}) {
    this.mode = options.mode ?? 'latch';
    this.strictSource = options.strictSource ?? true;
    this.handover = options.handover ?? false;
    this.sendBeforeLatch = options.sendBeforeLatch ?? true;
    this.#state = this.mode === 'latch' ? 'learning' : 'trusting';
  }

  get state(): LatchState {
    return this.#state;
  }

  get latched(): boolean {
    return this.#state === 'latched';
  }

  get hasTarget(): boolean {
    return this.targetPort !== 0;
  }

  /**
   * The address the SDP advertises. An unspecified address (0.0.0.0 or ::, the RFC 2543 hold idiom still sent by
   * some trunks) or port 0 (a rejected stream, RFC 3264 §6) gives no target until a packet is heard.
   * Starts learning afresh, as `relearn()` does.
   */
  setExpected(address: string, port: number): void {
    const unspecified = address === '' || address === '0.0.0.0' || address === '::' || port <= 0 || port > 65535;
    this.#sdpAddress = unspecified ? '' : address;
    this.#sdpAddressMapped = unspecified || address.includes(':') ? '' : `::ffff:${address}`;
    this.#sdpPort = unspecified ? 0 : port;
    this.relearn();
  }

  /** Forget what was learned (a new offer/answer may have moved the peer): back to the SDP target. */
  relearn(): void {
    this.#state = this.mode === 'latch' ? 'learning' : 'trusting';
    const useSdp = this.mode === 'trust-sdp' || this.sendBeforeLatch;
    this.targetAddress = useSdp ? this.#sdpAddress : '';
    this.targetPort = useSdp ? this.#sdpPort : 0;
  }

  /** Whether `address:port` is the current target. */
  isTarget(address: string, port: number): boolean {
    return port === this.targetPort && address === this.targetAddress;
  }

  /**
   * Per received packet. `valid` says the packet parses as version-2 RTP (or RTCP, for an RTCP latch); junk never
   * latches. Returns whether the packet should be accepted (relayed). Allocates nothing.
   */
  observe(address: string, port: number, valid: boolean): boolean {
    switch (this.#state) {
      case 'learning':
        if (!valid) return false;
        this.#latchTo(address, port);
        return true;
      case 'latched':
        if (port === this.targetPort && address === this.targetAddress) return true;
        if (this.handover && valid) {
          this.#latchTo(address, port);
          return true;
        }
        if (this.strictSource) {
          this.strangerDrops++;
          return false;
        }
        return valid;
      case 'trusting':
        if (!this.strictSource) return valid;
        if (port === this.#sdpPort && (address === this.#sdpAddress || address === this.#sdpAddressMapped)) return valid;
        this.strangerDrops++;
        return false;
    }
  }

  #latchTo(address: string, port: number): void {
    this.targetAddress = address;
    this.targetPort = port;
    this.#state = 'latched';
    this.latches++;
  }
}
