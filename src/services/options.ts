/**
 * The services peer's options: defaults, validated once at construction and frozen (a bad value fails at start-up
 * with a ServicesConfigError naming it, not on the first call).
 */
import { isIP } from 'node:net';
import { GatewayError } from '../errors.ts';
import type { TimerConfig } from '../signaling/transaction/timers.ts';
import { DEFAULT_TONE, renderLinear, type ToneSegment } from './tone.ts';

export interface ServicesPeerOptions {
  /** SIP and RTP bind here, and SDP c= names it: an IP literal, not 0.0.0.0. Default 127.0.0.1. */
  readonly host?: string;
  /** SIP/UDP port (and TCP with `tcp`); 0 picks a free one (`port` tells which). Default 5070. */
  readonly port?: number;
  /** Request-URI users of the two services. Default `echo` and `tone`. */
  readonly echo?: string;
  readonly tone?: string;
  /** Our own RTP ports, apart from the gateway's. Default 40000–40999. */
  readonly portPool?: { readonly min: number; readonly max: number };
  /** 180 Ringing for this long before the 200. Default 0 (answer at once). */
  readonly ringMs?: number;
  /** Calls at once; more get 486 Busy Here. Default 200. */
  readonly maxCalls?: number;
  /** No RTP from the caller for this long (when media is expected) ends the call with BYE. Default 120 000. */
  readonly mediaTimeoutMs?: number;
  /** The same while nothing is expected (hold, inactive): nothing may live for ever. Default 3 600 000. */
  readonly holdTimeoutMs?: number;
  /** The `tone` service's pattern. Default DEFAULT_TONE (steady 440 Hz). */
  readonly tonePattern?: readonly ToneSegment[];
  /** Also listen on TCP (same port). Default false. */
  readonly tcp?: boolean;
  /** SIP timer base values (tests shorten T1). */
  readonly timers?: Partial<TimerConfig>;
  /** How long close() waits for the answers to its BYEs. Default 2000 ms. */
  readonly closeTimeoutMs?: number;
  readonly userAgent?: string;
}

export type ResolvedServicesOptions = Required<Omit<ServicesPeerOptions, 'timers'>> & { readonly timers: Partial<TimerConfig> };

export const SERVICES_PEER_DEFAULTS: Readonly<ResolvedServicesOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 5070,
  echo: 'echo',
  tone: 'tone',
  portPool: Object.freeze({ min: 40000, max: 40999 }),
  ringMs: 0,
  maxCalls: 200,
  mediaTimeoutMs: 120_000,
  holdTimeoutMs: 3_600_000,
  tonePattern: DEFAULT_TONE,
  tcp: false,
  timers: Object.freeze({}),
  closeTimeoutMs: 2000,
  userAgent: 'webrtc-sip-gateway services',
});

export class ServicesConfigError extends GatewayError {
  constructor(message: string) {
    super('SERVICES_CONFIG', message);
  }
}

export function resolveServicesOptions(options: ServicesPeerOptions): Readonly<ResolvedServicesOptions> {
  const o: ResolvedServicesOptions = { ...SERVICES_PEER_DEFAULTS, ...options, timers: options.timers ?? {} };
  const fail = (message: string): never => {
    throw new ServicesConfigError(message);
  };
  if (isIP(o.host) === 0 || o.host === '0.0.0.0' || o.host === '::') fail(`host must be a unicast IP literal, got "${o.host}"`);
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) fail(`bad port ${o.port}`);
  if (o.echo.length === 0 || o.tone.length === 0 || o.echo === o.tone) fail('echo and tone need two different non-empty names');
  for (const [name, value] of [['ringMs', o.ringMs], ['mediaTimeoutMs', o.mediaTimeoutMs], ['holdTimeoutMs', o.holdTimeoutMs], ['closeTimeoutMs', o.closeTimeoutMs]] as const) {
    if (!Number.isFinite(value) || value < 0) fail(`${name} must be a non-negative number of ms`);
  }
  if (o.mediaTimeoutMs === 0 || o.holdTimeoutMs === 0) fail('media and hold timeouts must be > 0');
  if (!Number.isInteger(o.maxCalls) || o.maxCalls < 1) fail('maxCalls must be a positive integer');
  renderLinear(o.tonePattern); // validates the pattern now rather than on the first call
  return Object.freeze({ ...o, portPool: Object.freeze({ ...o.portPool }), tonePattern: Object.freeze([...o.tonePattern]) });
}
