/**
 * The one configuration file, as a schema. Every key is documented in docs/configuration.md; unknown keys are
 * errors (a typo must not silently fall back to a default on a machine that makes paid calls).
 */
import { z } from 'zod';
import { isIP } from 'node:net';
import { normalizeOrigin } from '../security/origin-policy.ts';
import { parseNgAddress } from '../ng/ng-client.ts';
import { MAX_MEDIA_WORKERS, portSliceProblem } from '../cluster/port-slices.ts';

const port = z.number().int().min(0).max(65535);
const hostname = z.string().min(1).regex(/^[A-Za-z0-9.:_-]+$/, 'expected a host name or IP address');
const ipAddress = z.string().refine((v) => isIP(v) !== 0, 'expected an IP address');
const seconds = z.number().positive();

/** An IPv4/IPv6 address or CIDR block (`203.0.113.0/24`, `2001:db8::/32`). */
const cidr = z.string().refine((v) => {
  const [addr, bits, extra] = v.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}, 'expected an IP address or CIDR block');

/** A regular expression matched against the whole dialled number or user, or a keyword. */
const pattern = z.string().min(1).refine((v) => {
  try {
    new RegExp(`^(?:${v})$`);
    return true;
  } catch {
    return false;
  }
}, 'expected a valid regular expression');

/** An ng control address, `udp:IP:PORT` or `udp6:[IPv6]:PORT`. */
const ngAddress = z.string().refine((v) => {
  try {
    parseNgAddress(v);
    return true;
  } catch {
    return false;
  }
}, 'expected udp:IP:PORT or udp6:[IPv6]:PORT');

const tlsFiles = z.strictObject({
  cert: z.string().min(1),
  key: z.string().min(1),
});

export const CODECS = ['PCMU', 'PCMA', 'G722', 'opus', 'telephone-event'] as const;
const codec = z.enum(CODECS);

const httpSchema = z.strictObject({
  host: hostname.default('127.0.0.1'),
  port: port.default(8080),
  wsPath: z.string().startsWith('/').default('/sip'),
  publicDir: z.string().min(1).default('public'),
  /**
   * HTTPS/WSS. `selfSigned: true` makes a self-signed pair at cert/key when neither file exists, and reuses it
   * after (src/security/self-signed.ts; for tests and first steps, see docs/security.md).
   */
  tls: tlsFiles.extend({ selfSigned: z.boolean().default(false) }).optional(),
  /**
   * Origins allowed to open the SIP WebSocket besides the gateway's own (`http(s)://host:port`, the advertised
   * host, localhost ↔ 127.0.0.1); `*` allows any page on the web to (unsafe). See docs/security.md.
   */
  allowedOrigins: z
    .array(z.string().min(1).refine((v) => v === '*' || normalizeOrigin(v) !== undefined, 'expected an origin (https://host[:port]), "null" or "*"'))
    .default([]),
  /** The host name browsers reach the gateway by (a public name, a proxy in front), and its port if different. */
  advertisedHost: hostname.optional(),
  advertisedPort: port.optional(),
  /** Concurrent WebSocket and SIP TCP/TLS connections per source address (IPv6: per /64); over it 503 / refused. */
  maxConnectionsPerAddress: z.number().int().positive().default(32),
  /** Seconds a WebSocket may stay open without any SIP message while no registration or call rides it. */
  idleTimeout: seconds.default(120),
});

const rateSchema = z.strictObject({
  /** Tokens per second, per source. */
  rate: z.number().positive(),
  /** Bucket size: the burst a source may send at once. */
  burst: z.number().int().min(1),
});

/** Flood and brute-force defences, signed tokens, the admin secret: docs/security.md. */
const securitySchema = z
  .strictObject({
    /** Never ban or rate-limit loopback sources (the built-in services, local tools; unspoofable from outside). */
    exemptLoopback: z.boolean().default(true),
    /** Addresses/CIDRs never banned or rate-limited, besides the trunks' allowedSources. */
    exempt: z.array(cidr).default([]),
    /** fail2ban-style: maxFailures failures within findTime seconds → banned for banTime seconds. */
    ban: z
      .strictObject({
        maxFailures: z.number().int().positive().default(10),
        findTime: seconds.default(60),
        banTime: seconds.default(900),
      })
      .prefault({}),
    rateLimit: z
      .strictObject({
        /** Every SIP datagram/message per source. */
        messages: rateSchema.default({ rate: 50, burst: 100 }),
        /** REGISTER/INVITE/OPTIONS/… outside a dialog and without credentials, per source. */
        unauthenticated: rateSchema.default({ rate: 10, burst: 40 }),
      })
      .prefault({}),
    /** Sources remembered by each limiter and the ban list (least recently seen forgotten first). */
    maxTrackedSources: z.number().int().min(1024).default(65536),
    /** HS256 secret for embedded-page tokens, e.g. `${GATEWAY_TOKEN_SECRET}`; tokens are refused without it. */
    tokenSecret: z.string().min(32, 'expected at least 32 characters (openssl rand -base64 48)').optional(),
    /** Default token lifetime, seconds. */
    tokenTtl: z.number().int().positive().default(300),
    /** Longest token lifetime accepted or minted, seconds. */
    tokenMaxTtl: z.number().int().positive().default(3600),
    /** Refuse WebSocket upgrades without a valid `?token=` (embed-only deployments). */
    requireToken: z.boolean().default(false),
    /** Bearer secret for `POST /api/token`, e.g. `${GATEWAY_ADMIN_SECRET}`; the endpoint refuses everyone without it. */
    adminSecret: z.string().min(16, 'expected at least 16 characters').optional(),
    /** SIP over UDP/TCP/TLS from a source that is no trunk: answer 403 (`reject`) or drop it unanswered (`ignore`). */
    nonTrunkSources: z.enum(['reject', 'ignore']).default('reject'),
  })
  .refine((s) => s.tokenTtl <= s.tokenMaxTtl, { message: 'tokenTtl must not exceed tokenMaxTtl', path: ['tokenTtl'] })
  .refine((s) => !s.requireToken || s.tokenSecret !== undefined, { message: 'requireToken needs tokenSecret', path: ['requireToken'] })
  .refine((s) => s.adminSecret === undefined || s.tokenSecret !== undefined, { message: 'adminSecret (the token endpoint) needs tokenSecret', path: ['adminSecret'] });

const sipListenerSchema = z.strictObject({
  protocol: z.enum(['udp', 'tcp', 'tls']),
  host: hostname.default('127.0.0.1'),
  port: port.default(5060),
  /** The address written in Via/Contact when the listener sits behind 1:1 NAT. */
  advertise: hostname.optional(),
  tls: tlsFiles.optional(),
});

const sipSchema = z.strictObject({
  /** The SIP domain of the users (From/To host the browsers register with); defaults to http.host. */
  domain: hostname.optional(),
  userAgent: z.string().min(1).default('webrtc-sip-gateway'),
  listeners: z.array(sipListenerSchema).default([
    { protocol: 'udp', host: '127.0.0.1', port: 5060 },
    { protocol: 'tcp', host: '127.0.0.1', port: 5060 },
  ]),
  timers: z
    .strictObject({
      t1: z.number().int().positive().default(500),
      t2: z.number().int().positive().default(4000),
      t4: z.number().int().positive().default(5000),
    })
    .prefault({}),
  maxMessageSize: z.number().int().min(1024).max(1048576).default(65536),
  /**
   * SO_RCVBUF / SO_SNDBUF of the SIP UDP sockets, bytes: a burst of INVITEs must not overflow the kernel default
   * (~208 KiB). Linux caps them at net.core.rmem_max / wmem_max (a warning says so at startup).
   */
  udpReceiveBuffer: z.number().int().min(65536).max(1 << 30).default(4 * 1024 * 1024),
  udpSendBuffer: z.number().int().min(65536).max(1 << 30).default(4 * 1024 * 1024),
});

const WORKERS_ERROR = { error: `expected a number of media processes from 0 to ${MAX_MEDIA_WORKERS}, or "auto" (one per core)` };

const mediaSchema = z.strictObject({
  bindAddress: ipAddress.default('127.0.0.1'),
  /** What SDP says to peers (the public address of a cloud host); defaults to bindAddress. */
  advertisedAddress: ipAddress.optional(),
  /** ICE candidate addresses for WebRTC legs; defaults to [advertisedAddress]. */
  iceAddresses: z.array(ipAddress).optional(),
  ports: z
    .strictObject({ min: port.default(30000), max: port.default(39999) })
    .prefault({})
    .refine((p) => p.min < p.max && p.max - p.min >= 3, 'ports.min must be below ports.max with room for a pair'),
  timeout: seconds.default(60),
  codecs: z.array(codec).min(1).default(['PCMU', 'PCMA', 'G722', 'opus', 'telephone-event']),
  /**
   * Remote media nodes driven over rtpengine's ng protocol (`node src/media-node.ts`, or rtpengine): each new
   * call goes to the node with the least load and stays there. Empty (default): the in-process media plane only.
   * `ports`, `timeout` and `codecs` above apply to the in-process plane; a remote node has its own flags.
   */
  nodes: z
    .array(
      z.strictObject({
        /** Kamailio's rtpengine_sock syntax: `udp:127.0.0.1:2223`, `udp6:[::1]:2223`. */
        ng: ngAddress,
        /** For logs; defaults to the address. */
        name: z.string().min(1).optional(),
      }),
    )
    .default([]),
  /**
   * Media processes the gateway forks and supervises (`src/media-node.ts`, ng on loopback), each with its own slice
   * of `ports`; `auto`: one per core (os.availableParallelism()). 0 (default): media in the gateway's process.
   */
  workers: z
    .union([z.number().int(WORKERS_ERROR).min(0, WORKERS_ERROR).max(MAX_MEDIA_WORKERS, WORKERS_ERROR), z.literal('auto')], WORKERS_ERROR)
    .default(0),
  /**
   * Whether the in-process media plane takes calls: default true, false with `workers` (they own `ports`).
   * With `nodes` and no workers, false sends every call to the nodes.
   */
  local: z.boolean().optional(),
  /** With `nodes`: an ng ping every `pingInterval` seconds; `maxMissedPings` in a row take a node out. */
  nodeHealth: z
    .strictObject({
      pingInterval: seconds.default(1),
      maxMissedPings: z.number().int().min(1).default(3),
      /** Seconds one ng command may take, retransmissions included. */
      commandTimeout: seconds.default(3),
    })
    .prefault({}),
})
  .superRefine((m, ctx) => {
    if (m.workers === 0) return;
    if (m.local === true) ctx.addIssue({ code: 'custom', path: ['local'], message: 'local: true cannot share media.ports with media.workers' });
    // `auto` is checked at start-up, against the cores it finds.
    if (typeof m.workers !== 'number' || !Number.isInteger(m.workers) || m.workers < 1 || m.workers > MAX_MEDIA_WORKERS) return;
    const problem = portSliceProblem(m.ports, m.workers);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['workers'], message: problem });
  })
  .transform(({ local, ...m }) => ({ ...m, local: local ?? m.workers === 0 }));

const userSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9._~+-]+$/, 'expected a SIP user name (letters, digits, . _ ~ + -)'),
    password: z.string().min(1).optional(),
    /** MD5(name:realm:password) — lets the config hold no clear-text password (MD5 digest only). */
    ha1: z.string().regex(/^[0-9a-f]{32}$/i, 'expected 32 hex digits').optional(),
    /** SHA-256(name:realm:password), for SHA-256 digest without a clear-text password. */
    ha1Sha256: z.string().regex(/^[0-9a-f]{64}$/i, 'expected 64 hex digits').optional(),
    displayName: z.string().optional(),
    /**
     * What this user may dial: regular expressions matched against the whole destination, or the keywords
     * `@users` (any configured user) and `@services` (the built-in echo/tone).
     */
    dialPatterns: z.array(z.union([z.literal('@users'), z.literal('@services'), pattern])).default(['@users', '@services']),
    maxCalls: z.number().int().positive().default(4),
  })
  .refine((u) => u.password !== undefined || u.ha1 !== undefined || u.ha1Sha256 !== undefined, {
    message: 'a user needs password, ha1 or ha1Sha256',
  });

const trunkSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, _ or -'),
  host: hostname,
  port: port.default(5060),
  transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
  username: z.string().min(1).optional(),
  /** Digest user name when it differs from `username` (some carriers use an account id). */
  authUsername: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  realm: z.string().min(1).optional(),
  /** Caller ID: the From user part, e.g. the DID the carrier assigned. */
  callerId: z.string().min(1).optional(),
  callerName: z.string().optional(),
  fromDomain: hostname.optional(),
  register: z
    .strictObject({ enabled: z.boolean().default(false), expires: z.number().int().min(60).default(3600) })
    .prefault({}),
  /** Where this trunk's requests come from; defaults to the addresses `host` resolves to. */
  allowedSources: z.array(cidr).default([]),
  codecs: z.array(codec).min(1).optional(),
  tlsVerify: z.boolean().default(true),
  maxCalls: z.number().int().positive().default(100),
});

const inboundRouteSchema = z.strictObject({
  /** Matched against the Request-URI user (the DID), then the To user. */
  match: pattern,
  /** Only calls from this trunk (by name); any trunk when absent. */
  trunk: z.string().optional(),
  users: z.array(z.string().min(1)).min(1),
});

const outboundRouteSchema = z.strictObject({
  match: pattern,
  trunk: z.string().min(1),
  /** Digits removed from the front, then the prefix added, before the number goes to the trunk. */
  strip: z.number().int().min(0).default(0),
  prefix: z.string().default(''),
});

const servicesSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** The built-in SIP peer (echo, tone) listens here and is reached over real SIP/UDP and RTP. */
  host: ipAddress.default('127.0.0.1'),
  port: port.default(5070),
  echo: z.string().min(1).default('echo'),
  tone: z.string().min(1).default('tone'),
});

const limitsSchema = z.strictObject({
  maxCallDuration: seconds.default(4 * 3600),
  callsPerMinutePerUser: z.number().int().positive().default(10),
  /** A destination that sends nothing at all (not even 100 Trying) within this many seconds fails the call (408). */
  noResponseTimeout: seconds.default(8),
  /** Ringing without an answer for this many seconds: the far side is cancelled and the caller gets 480. */
  noAnswerTimeout: seconds.default(120),
  /** 503 + Retry-After for new out-of-dialog INVITEs while the gateway is saturated (docs/security.md). */
  overload: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Mean event-loop delay over `sampleInterval`, ms, above which new INVITEs are refused; 0 turns this signal off. */
      maxEventLoopDelay: z.number().min(0).default(200),
      /** Calls in setup (INVITEs without a final response) beyond which new INVITEs are refused; 0 turns this off. */
      maxCallsInSetup: z.number().int().min(0).default(1000),
      /** Retry-After of the 503, seconds. */
      retryAfter: z.number().int().min(0).max(3600).default(2),
      /** Event-loop delay sampling window, ms. */
      sampleInterval: z.number().int().min(10).max(10000).default(500),
      /**
       * Out-of-dialog methods refused while overloaded (ACK, CANCEL, BYE and in-dialog requests never are): those the
       * B2BUA handles out of a dialog; any other method gets 405/501 before overload is considered.
       */
      methods: z.array(z.enum(['INVITE', 'REGISTER', 'OPTIONS'])).min(1).default(['INVITE']),
    })
    .prefault({}),
});

export const configSchema = z
  .strictObject({
    http: httpSchema.prefault({}),
    sip: sipSchema.prefault({}),
    media: mediaSchema.prefault({}),
    users: z.array(userSchema).default([]),
    trunks: z.array(trunkSchema).default([]),
    routes: z
      .strictObject({
        inbound: z.array(inboundRouteSchema).default([]),
        outbound: z.array(outboundRouteSchema).default([]),
      })
      .prefault({}),
    services: servicesSchema.prefault({}),
    limits: limitsSchema.prefault({}),
    security: securitySchema.prefault({}),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((cfg, ctx) => {
    const users = new Set<string>();
    cfg.users.forEach((u, i) => {
      if (users.has(u.name)) ctx.addIssue({ code: 'custom', path: ['users', i, 'name'], message: `duplicate user "${u.name}"` });
      users.add(u.name);
    });
    const trunks = new Set<string>();
    cfg.trunks.forEach((t, i) => {
      if (trunks.has(t.name)) ctx.addIssue({ code: 'custom', path: ['trunks', i, 'name'], message: `duplicate trunk "${t.name}"` });
      trunks.add(t.name);
      if (t.register.enabled && (t.username === undefined || t.password === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['trunks', i, 'register'], message: 'registration needs username and password' });
      }
    });
    cfg.routes.inbound.forEach((r, i) => {
      r.users.forEach((name, j) => {
        if (!users.has(name)) ctx.addIssue({ code: 'custom', path: ['routes', 'inbound', i, 'users', j], message: `unknown user "${name}"` });
      });
      if (r.trunk !== undefined && !trunks.has(r.trunk)) {
        ctx.addIssue({ code: 'custom', path: ['routes', 'inbound', i, 'trunk'], message: `unknown trunk "${r.trunk}"` });
      }
    });
    cfg.routes.outbound.forEach((r, i) => {
      if (!trunks.has(r.trunk)) ctx.addIssue({ code: 'custom', path: ['routes', 'outbound', i, 'trunk'], message: `unknown trunk "${r.trunk}"` });
    });
    if (cfg.media.ports.max > 65535) ctx.addIssue({ code: 'custom', path: ['media', 'ports', 'max'], message: 'port out of range' });
    // `=== false`: when a media key is invalid, its defaults (local among them) are not filled in.
    if (cfg.media.local === false && cfg.media.nodes.length === 0 && cfg.media.workers === 0) {
      ctx.addIssue({ code: 'custom', path: ['media', 'local'], message: 'local: false needs at least one entry in media.nodes, or media.workers' });
    }
    const nodeNames = new Set<string>();
    cfg.media.nodes.forEach((n, i) => {
      const name = n.name ?? n.ng;
      if (nodeNames.has(name) || (cfg.media.local && name === 'local') || (cfg.media.workers !== 0 && /^worker-\d+$/.test(name))) {
        ctx.addIssue({ code: 'custom', path: ['media', 'nodes', i], message: `duplicate media node "${name}"` });
      }
      nodeNames.add(name);
    });
  });

export type ConfigInput = z.input<typeof configSchema>;
export type GatewayConfig = z.output<typeof configSchema>;
export type UserConfig = GatewayConfig['users'][number];
export type TrunkConfig = GatewayConfig['trunks'][number];
export type SecurityConfig = GatewayConfig['security'];
export type CodecName = (typeof CODECS)[number];
