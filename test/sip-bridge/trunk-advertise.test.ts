/**
 * A SIP listener's `advertise` (1:1 NAT: the address trunks must reach) is what the gateway writes in Via sent-by
 * and Contact of the requests it originates towards trunks: the trunk REGISTER and the INVITE of an outbound call.
 * The trunk here is a raw UDP socket on loopback that reads what arrives; 203.0.113.7 (TEST-NET-3) only appears
 * in headers, nothing is ever sent to it.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { SipStack } from '../../src/signaling/sip-stack.ts';
import { parseConfig } from '../../src/config/load.ts';
import { startGateway } from '../../src/gateway.ts';
import { TrunkRegistration } from '../../src/sip-bridge/trunk-registration.ts';
import { Cleanup, DIALING_USERS, freePort, phoneFor } from '../gateway/harness.ts';

const ADVERTISED = '203.0.113.7';
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A UDP "trunk" on 127.0.0.1 that collects the requests it gets. */
async function rawTrunk(): Promise<{ socket: Socket; port: number; next(method: string): Promise<{ text: string; from: { address: string; port: number } }> }> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  cleanup.add(socket, (s) => s.close());
  const seen: Array<{ text: string; from: { address: string; port: number } }> = [];
  socket.on('message', (msg, rinfo) => seen.push({ text: msg.toString('utf8'), from: { address: rinfo.address, port: rinfo.port } }));
  return {
    socket,
    port: socket.address().port,
    async next(method) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const found = seen.find((m) => m.text.startsWith(`${method} `));
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no ${method} within 5 s (got ${seen.length} messages)`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

function header(text: string, name: string): string {
  return new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(text)?.[1]?.trim() ?? '';
}

describe('the listener’s advertised address towards trunks', () => {
  it('REGISTER: Via sent-by and Contact name the advertised host and the listener’s port', async () => {
    const trunk = await rawTrunk();
    const stack = new SipStack({
      listeners: [{ protocol: 'UDP', host: '127.0.0.1', port: 0, advertisedHost: ADVERTISED }],
      http: false,
      userAgent: 'gw-test',
    });
    await stack.start();
    cleanup.add(stack, (s) => s.close());
    const port = stack.listeners[0]!.local.port;
    const cfg = parseConfig(
      `trunks:\n  - { name: carrier, host: 127.0.0.1, port: ${trunk.port}, username: gw-user, password: x, register: { enabled: true, expires: 300 } }\n`,
      'test',
      {},
    );
    const reg = cleanup.add(new TrunkRegistration(stack, cfg.trunks[0]!), (r) => r.close(0));
    reg.start();
    const register = await trunk.next('REGISTER');
    expect(header(register.text, 'Via')).toMatch(new RegExp(`^SIP/2\\.0/UDP ${ADVERTISED.replace(/\./g, '\\.')}:${port};`));
    expect(header(register.text, 'Contact')).toBe(`<sip:gw-user@${ADVERTISED}:${port}>`);
    // It still went out from the bound address.
    expect(register.from).toEqual({ address: '127.0.0.1', port });
  });

  it('INVITE of an outbound call: Via sent-by and Contact name the advertised host', async () => {
    const trunk = await rawTrunk();
    const sipPort = await freePort();
    const media = 50000 + 400 * Math.floor(Math.random() * 35);
    const yaml = `
http: { host: 127.0.0.1, port: 0 }
sip:
  listeners:
    - { protocol: udp, host: 127.0.0.1, port: ${sipPort}, advertise: ${ADVERTISED} }
media: { bindAddress: 127.0.0.1, ports: { min: ${media}, max: ${media + 99} } }
services: { enabled: false }
logLevel: silent
${DIALING_USERS}trunks:
  - { name: carrier, host: 127.0.0.1, port: ${trunk.port}, transport: udp, allowedSources: [127.0.0.1] }
routes:
  outbound:
    - { match: '\\+1555[0-9]+', trunk: carrier }
`;
    const gw = cleanup.add(await startGateway(parseConfig(yaml, 'test config', {})), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    alice.invite('+15551230077');
    const invite = await trunk.next('INVITE');
    expect(header(invite.text, 'Via')).toMatch(new RegExp(`^SIP/2\\.0/UDP ${ADVERTISED.replace(/\./g, '\\.')}:${sipPort};`));
    expect(header(invite.text, 'Contact')).toBe(`<sip:gateway@${ADVERTISED}:${sipPort}>`);
    expect(invite.from).toEqual({ address: '127.0.0.1', port: sipPort });
  });
});
