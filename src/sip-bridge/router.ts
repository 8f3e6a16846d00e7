/**
 * The dial plan: where a call goes. Pure decisions over the frozen config; the B2BUA acts on them.
 * Toll-fraud stance: a browser user reaches only what its `dialPatterns` allow — other users (`@users`), the
 * built-in services (`@services`), or numbers matching a pattern AND an outbound route. Anything else is refused
 * before a single SIP message leaves for a trunk.
 */
import type { GatewayConfig, TrunkConfig, UserConfig } from '../config/schema.ts';

export type RouteDecision =
  | { kind: 'users'; users: string[] }
  | { kind: 'service'; service: 'echo' | 'tone' }
  | { kind: 'trunk'; trunk: TrunkConfig; number: string }
  | { kind: 'reject'; status: 403 | 404; reason: string };

/** Visual separators people type in phone numbers; removed only from things that look like numbers. */
function normalizeDialled(dialled: string): string {
  const compact = dialled.replace(/[\s().-]/g, '');
  return /^\+?[0-9*#]+$/.test(compact) ? compact : dialled;
}

export class Router {
  readonly #config: GatewayConfig;
  readonly #users: Map<string, UserConfig>;
  readonly #compiled = new Map<string, RegExp>();

  constructor(config: GatewayConfig) {
    this.#config = config;
    this.#users = new Map(config.users.map((u) => [u.name, u]));
  }

  #test(pattern: string, value: string): boolean {
    let re = this.#compiled.get(pattern);
    if (!re) this.#compiled.set(pattern, (re = new RegExp(`^(?:${pattern})$`)));
    return re.test(value);
  }

  user(name: string): UserConfig | undefined {
    return this.#users.get(name);
  }

  #serviceNamed(name: string): 'echo' | 'tone' | undefined {
    const s = this.#config.services;
    if (!s.enabled) return undefined;
    if (name === s.echo) return 'echo';
    if (name === s.tone) return 'tone';
    return undefined;
  }

  /** A call from a signed-in browser user to `dialled` (the Request-URI user part). */
  fromUser(caller: string, dialled: string): RouteDecision {
    const user = this.#users.get(caller);
    if (!user) return { kind: 'reject', status: 403, reason: 'Unknown caller' };
    const target = normalizeDialled(dialled);
    const allows = (keyword: '@users' | '@services') =>
      user.dialPatterns.includes(keyword) || user.dialPatterns.some((p) => !p.startsWith('@') && this.#test(p, target));

    if (this.#users.has(target)) {
      return allows('@users') ? { kind: 'users', users: [target] } : { kind: 'reject', status: 403, reason: 'Destination not allowed' };
    }
    const service = this.#serviceNamed(target);
    if (service) {
      return allows('@services') ? { kind: 'service', service } : { kind: 'reject', status: 403, reason: 'Destination not allowed' };
    }
    const route = this.#config.routes.outbound.find((r) => this.#test(r.match, target));
    if (!route) return { kind: 'reject', status: 404, reason: 'No route to destination' };
    if (!user.dialPatterns.some((p) => !p.startsWith('@') && this.#test(p, target))) {
      return { kind: 'reject', status: 403, reason: 'Destination not allowed' };
    }
    const trunk = this.#config.trunks.find((t) => t.name === route.trunk);
    if (!trunk) return { kind: 'reject', status: 404, reason: 'No route to destination' };
    return { kind: 'trunk', trunk, number: route.prefix + target.slice(route.strip) };
  }

  /** A call arriving from `trunk` for the DID in the Request-URI (falling back to the To user). */
  fromTrunk(trunk: string | undefined, requestUser: string | undefined, toUser: string | undefined): RouteDecision {
    for (const candidate of [requestUser, toUser]) {
      if (candidate === undefined) continue;
      const did = normalizeDialled(candidate);
      const route = this.#config.routes.inbound.find(
        (r) => (r.trunk === undefined || r.trunk === trunk) && this.#test(r.match, did),
      );
      if (route) return { kind: 'users', users: [...route.users] };
    }
    return { kind: 'reject', status: 404, reason: 'Number not assigned' };
  }
}
