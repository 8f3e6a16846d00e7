/**
 * The configuration loader (src/config/load.ts parseConfig) on mutated YAML: the built-in demo and a full
 * configuration using every section. A configuration is the operator's, not the network's, but a typo must end in
 * a ConfigError naming the key — never a stack trace — so only ConfigError may come out, and whatever parses must
 * be frozen.
 */
import { parseConfig } from '../../../src/config/load.ts';
import { ConfigError } from '../../../src/config/config-error.ts';
import { DEMO_CONFIG_YAML } from '../../../src/config/demo.ts';
import { FuzzFailure, runFuzzLoop, type FuzzStats } from '../harness.ts';
import { LineMutator, type TextCase } from '../mutators.ts';

export const FULL_CONFIG_YAML = `# Every section, as an operator would write it.
http:
  host: 0.0.0.0
  port: 8443
  wsPath: /sip
  publicDir: public
  tls: { cert: /etc/gw/cert.pem, key: /etc/gw/key.pem }
  allowedOrigins: [https://shop.example.com, "null"]
  advertisedHost: phone.example.com
  advertisedPort: 443
  maxConnectionsPerAddress: 16
  idleTimeout: 60
sip:
  domain: phone.example.com
  userAgent: gw/1.0
  listeners:
    - { protocol: udp, host: 0.0.0.0, port: 5060, advertise: 203.0.113.10 }
    - protocol: tls
      host: 0.0.0.0
      port: 5061
      tls: { cert: /etc/gw/cert.pem, key: /etc/gw/key.pem }
  timers: { t1: 500, t2: 4000, t4: 5000 }
  maxMessageSize: 65536
media:
  bindAddress: 0.0.0.0
  advertisedAddress: 203.0.113.10
  iceAddresses: [203.0.113.10, "2001:db8::10"]
  ports: { min: 30000, max: 39999 }
  timeout: 60
  codecs: [opus, PCMU, PCMA, telephone-event]
users:
  - name: alice
    password: \${ALICE_PASSWORD}
    displayName: Alice
    dialPatterns: ["@users", "@services", "\\\\+49[0-9]{6,12}"]
    maxCalls: 2
  - { name: bob, ha1: 0123456789abcdef0123456789abcdef }
  - { name: carol, ha1Sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef }
trunks:
  - name: carrier
    host: sip.carrier.example
    port: 5060
    transport: udp
    username: "4930123456"
    password: \${TRUNK_PASSWORD}
    realm: carrier.example
    callerId: "+4930123456"
    register: { enabled: true, expires: 600 }
    allowedSources: [198.51.100.0/24, "2001:db8:100::/48"]
    codecs: [PCMA]
    maxCalls: 30
routes:
  inbound:
    - { match: "\\\\+?4930123456", trunk: carrier, users: [alice, bob] }
  outbound:
    - { match: "\\\\+?[0-9]{6,15}", trunk: carrier, strip: 0, prefix: "" }
services: { enabled: true, host: 127.0.0.1, port: 5070, echo: echo, tone: tone }
limits: { maxCallDuration: 3600, callsPerMinutePerUser: 5 }
security:
  exemptLoopback: true
  exempt: [192.0.2.0/28]
  ban: { maxFailures: 10, findTime: 60, banTime: 900 }
  rateLimit:
    messages: { rate: 50, burst: 100 }
    unauthenticated: { rate: 10, burst: 40 }
  maxTrackedSources: 65536
  tokenSecret: \${GATEWAY_TOKEN_SECRET}
  tokenTtl: 300
  tokenMaxTtl: 3600
  requireToken: false
  adminSecret: \${GATEWAY_ADMIN_SECRET}
logLevel: info
`;

const YAML_LINES = [
  'x: &a [1, 2]', 'y: *a', '<<: *a', 'z: !!binary aGVsbG8=', 'w: !!js/function "x"', 'v: !custom x', '---', '...', '%YAML 1.2', '? complex',
  'http: null', 'http: []', 'users: {}', 'users:', '  - ', '- a', 'trunks: [{}]', 'security: { ban: { maxFailures: -1 } }',
  'security:\n  tokenSecret: ${UNSET_VARIABLE}', 'a: |', 'b: >-', '  text', "c: 'quoted ''x'''", 'd: "\\u0000"', 'e: ~', 'f: .inf', 'g: 0o17',
  '__proto__: { polluted: true }', 'constructor: { prototype: { x: 1 } }', 'http: { port: 1e400 }', 'http: { host: "" }',
];
const YAML_TOKENS = [': ', '- ', '&a ', '*a', '!!str ', '{', '}', '[', ']', '|', '>', '"', "'", '${ALICE_PASSWORD}', '$${', '${', '#', '? ', 'null', 'true', '@users', '\t'];

const ENV: NodeJS.ProcessEnv = {
  ALICE_PASSWORD: 'wonderland',
  TRUNK_PASSWORD: 'carrier-secret',
  GATEWAY_TOKEN_SECRET: 'fuzz-token-secret-0123456789abcdefghijkl',
  GATEWAY_ADMIN_SECRET: 'fuzz-admin-secret-0123',
};


export function runConfigFuzz(options: { iterations: number; seed: number }): FuzzStats {
  const m = new LineMutator([DEMO_CONFIG_YAML, FULL_CONFIG_YAML], options.seed, { lines: YAML_LINES, tokens: YAML_TOKENS, eol: '\n', hugeSizes: [64, 1024, 4096] });
  return runFuzzLoop<TextCase>({
    target: 'config',
    ...options,
    next: () => m.next(),
    check: (c) => {
      const config = parseConfig(c.input, 'fuzz.yaml', ENV);
      if (!Object.isFrozen(config) || !Object.isFrozen(config.http) || !Object.isFrozen(config.security)) throw new FuzzFailure('accepted configuration is not frozen');
      if (({} as Record<string, unknown>).polluted !== undefined) throw new FuzzFailure('Object.prototype was polluted');
      return 'ok';
    },
    expected: (error) => {
      if (!(error instanceof ConfigError)) return undefined;
      if (error.problems.length === 0) throw new FuzzFailure('ConfigError without problems');
      return error.problems[0]!.key === '(YAML syntax)' ? 'ConfigError:yaml' : 'ConfigError:schema';
    },
  });
}
