/**
 * A real gateway in the test process, from a YAML config: ephemeral HTTP/SIP ports, a media port range and a
 * services port chosen free for this run. Teardown checks that nothing leaked.
 */
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { parseConfig } from '../../src/config/load.ts';
import { startGateway, type Gateway } from '../../src/gateway.ts';

/** A UDP+TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 9000);
    const ok = await new Promise<boolean>((resolve) => {
      const tcp = createServer();
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => {
        const udp = createSocket('udp4');
        udp.once('error', () => tcp.close(() => resolve(false)));
        udp.bind(port, '127.0.0.1', () => udp.close(() => tcp.close(() => resolve(true))));
      });
    });
    if (ok) return port;
  }
}

let mediaBase = 50000;

/** Starts a gateway; `extraYaml` is appended to a base config with alice and bob (password "demo"). */
export async function gatewayFor(extraYaml = '', options: { sipPort?: number } = {}): Promise<Gateway & { sipPort: number }> {
  const sipPort = options.sipPort ?? (await freePort());
  const servicesPort = await freePort();
  const min = mediaBase;
  mediaBase += 400;
  if (mediaBase > 64000) mediaBase = 50000;
  const yaml = `
http: { host: 127.0.0.1, port: 0 }
sip:
  listeners:
    - { protocol: udp, host: 127.0.0.1, port: ${sipPort} }
    - { protocol: tcp, host: 127.0.0.1, port: ${sipPort} }
media: { bindAddress: 127.0.0.1, ports: { min: ${min}, max: ${min + 399} }, timeout: 30 }
services: { enabled: true, host: 127.0.0.1, port: ${servicesPort} }
logLevel: silent
${extraYaml.includes('users:') ? '' : 'users:\n  - { name: alice, password: demo, displayName: Alice }\n  - { name: bob, password: demo, displayName: Bob }\n'}${extraYaml}
`;
  const gateway = await startGateway(parseConfig(yaml, 'test config', {}));
  return Object.assign(gateway, { sipPort });
}
