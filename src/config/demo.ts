/**
 * The built-in demo: what `npm start` runs with no config file. Everything on 127.0.0.1, two users with a
 * well-known password (said in the README and in a start-up warning), and the built-in SIP peer that answers
 * `echo` and `tone` over real SIP/UDP and RTP.
 */
import { parseConfig } from './load.ts';
import type { GatewayConfig } from './schema.ts';

export const DEMO_CONFIG_YAML = `# The built-in demo configuration (loopback only).
http:
  host: 127.0.0.1
  port: 8080
sip:
  listeners:
    - { protocol: udp, host: 127.0.0.1, port: 5060 }
    - { protocol: tcp, host: 127.0.0.1, port: 5060 }
media:
  bindAddress: 127.0.0.1
  ports: { min: 30000, max: 39999 }
users:
  - { name: alice, password: demo, displayName: Alice }
  - { name: bob, password: demo, displayName: Bob }
services:
  enabled: true
  host: 127.0.0.1
  port: 5070
`;

export function demoConfig(): GatewayConfig {
  return parseConfig(DEMO_CONFIG_YAML, 'built-in demo', {});
}
