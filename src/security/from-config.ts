/**
 * The defences as the configuration describes them (`security:` and `http:` in the YAML), ready to hand to the
 * SipStack. One function per piece so the gateway wires each where it belongs:
 *
 *   const acl = await TrunkAcl.create(config.trunks);
 *   const guard = guardFromConfig(config, { isTrunkSource: (a) => acl.trunkFor(a) !== undefined });
 *   const sec = stackSecurityOptions(config, guard);
 *   new SipStack({ ..., http: { ...http, ...sec.http }, limits: { ...limits, ...sec.limits },
 *                  transport: { ...transport, ...sec.transport } });
 */
import type { GatewayConfig } from '../config/schema.ts';
import type { HttpConfig, TransportLayerOptions, TransportLimits } from '../signaling/transports/config.ts';
import type { TokenOptions } from '../signaling/auth/token.ts';
import { SipGuard } from './sip-guard.ts';
import { tokenRoute, tokenUpgradeAuthorizer } from './token-http.ts';

export interface GuardWiring {
  /** The trunk ACL's answer (covers trunks whose sources come from DNS); trunk sources are never banned. */
  isTrunkSource?: (address: string) => boolean;
  /** Clocks, for tests. */
  now?: () => number;
  wallClock?: () => number;
}

/** The SipGuard of `config.security`, exempting the trunks' allowedSources and the built-in services' address. */
export function guardFromConfig(config: GatewayConfig, wiring: GuardWiring = {}): SipGuard {
  const s = config.security;
  const exempt = [...s.exempt, ...config.trunks.flatMap((t) => t.allowedSources)];
  if (config.services.enabled) exempt.push(config.services.host);
  return new SipGuard({
    bans: {
      maxFailures: s.ban.maxFailures,
      findTimeMs: s.ban.findTime * 1000,
      banTimeMs: s.ban.banTime * 1000,
      exempt,
      isExempt: wiring.isTrunkSource,
      exemptLoopback: s.exemptLoopback,
      maxTracked: s.maxTrackedSources,
      maxBans: s.maxTrackedSources,
      now: wiring.wallClock,
    },
    messages: s.rateLimit.messages,
    unauthenticated: s.rateLimit.unauthenticated,
    maxSources: s.maxTrackedSources,
    now: wiring.now,
  });
}

/** Token verification/minting options, or undefined when `security.tokenSecret` is not set (tokens refused). */
export function tokenOptionsFromConfig(config: GatewayConfig, now?: () => number): TokenOptions | undefined {
  const s = config.security;
  if (s.tokenSecret === undefined) return undefined;
  return { secret: s.tokenSecret, defaultTtlSeconds: s.tokenTtl, maxTtlSeconds: s.tokenMaxTtl, ...(now === undefined ? {} : { now }) };
}

export interface StackSecurityOptions {
  http: Pick<HttpConfig, 'allowedOrigins' | 'advertisedHost' | 'advertisedPort' | 'authorizeUpgrade' | 'routes'>;
  limits: Pick<TransportLimits, 'maxConnectionsPerAddress'>;
  transport: Pick<TransportLayerOptions, 'guard' | 'wsIdleTimeoutMs'>;
}

/** The SipStack option fragments for the guard, the Origin list, the connection cap, the idle timeout and tokens. */
export function stackSecurityOptions(config: GatewayConfig, guard: SipGuard): StackSecurityOptions {
  const token = tokenOptionsFromConfig(config);
  const onFailure = (source: string, reason: Parameters<SipGuard['recordFailure']>[1]): void => {
    guard.recordFailure(source, reason);
  };
  return {
    http: {
      allowedOrigins: config.http.allowedOrigins,
      ...(config.http.advertisedHost === undefined ? {} : { advertisedHost: config.http.advertisedHost }),
      ...(config.http.advertisedPort === undefined ? {} : { advertisedPort: config.http.advertisedPort }),
      authorizeUpgrade: tokenUpgradeAuthorizer({ token, requireToken: config.security.requireToken, onFailure }),
      routes: [tokenRoute({ adminSecret: config.security.adminSecret, token, onFailure })],
    },
    limits: { maxConnectionsPerAddress: config.http.maxConnectionsPerAddress },
    transport: { guard, wsIdleTimeoutMs: config.http.idleTimeout * 1000 },
  };
}
