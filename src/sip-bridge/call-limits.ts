/**
 * Toll-fraud limits on new calls: concurrent calls per user and per trunk, and calls per minute per user. A
 * stolen password then costs its owner a few calls, not a night of premium-rate minutes. (The longest call is
 * limited by the Call itself, and what a user may dial by the Router.)
 */
import type { GatewayConfig, TrunkConfig } from '../config/schema.ts';
import type { RouteDecision } from './router.ts';
import type { CallInfo } from './call.ts';

export interface Refusal {
  status: number;
  reason: string;
}

export class CallLimits {
  readonly #config: GatewayConfig;
  readonly #now: () => number;
  readonly #activeByUser = new Map<string, number>();
  readonly #activeByTrunk = new Map<string, number>();
  /** Start times within the last minute, per user. */
  readonly #recentByUser = new Map<string, number[]>();

  constructor(config: GatewayConfig, now: () => number = Date.now) {
    this.#config = config;
    this.#now = now;
  }

  admitUser(user: string, decision: RouteDecision): Refusal | undefined {
    const cfg = this.#config.users.find((u) => u.name === user);
    if (cfg && (this.#activeByUser.get(user) ?? 0) >= cfg.maxCalls) return { status: 486, reason: 'Too many calls for this user' };
    const now = this.#now();
    const recent = (this.#recentByUser.get(user) ?? []).filter((t) => now - t < 60_000);
    this.#recentByUser.set(user, recent);
    if (recent.length >= this.#config.limits.callsPerMinutePerUser) return { status: 403, reason: 'Call rate limit exceeded' };
    if (decision.kind === 'trunk') return this.admitTrunk(decision.trunk);
    return undefined;
  }

  admitTrunk(trunk: TrunkConfig): Refusal | undefined {
    if ((this.#activeByTrunk.get(trunk.name) ?? 0) >= trunk.maxCalls) return { status: 503, reason: 'Trunk call limit reached' };
    return undefined;
  }

  started(info: CallInfo): void {
    for (const [kind, name] of this.#parties(info)) {
      const map = kind === 'user' ? this.#activeByUser : this.#activeByTrunk;
      map.set(name, (map.get(name) ?? 0) + 1);
    }
    if (info.caller.kind === 'user') this.#recentByUser.get(info.caller.name)?.push(this.#now()) ?? this.#recentByUser.set(info.caller.name, [this.#now()]);
  }

  finished(info: CallInfo): void {
    for (const [kind, name] of this.#parties(info)) {
      const map = kind === 'user' ? this.#activeByUser : this.#activeByTrunk;
      const n = (map.get(name) ?? 1) - 1;
      if (n <= 0) map.delete(name);
      else map.set(name, n);
    }
  }

  active(kind: 'user' | 'trunk', name: string): number {
    return (kind === 'user' ? this.#activeByUser : this.#activeByTrunk).get(name) ?? 0;
  }

  #parties(info: CallInfo): Array<['user' | 'trunk', string]> {
    const out: Array<['user' | 'trunk', string]> = [];
    if (info.caller.kind === 'user') out.push(['user', info.caller.name]);
    else out.push(['trunk', info.caller.name]);
    if (info.callee.kind === 'trunk') out.push(['trunk', info.callee.name]);
    return out;
  }
}
