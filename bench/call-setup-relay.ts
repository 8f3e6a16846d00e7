/**
 * The floor of the call-setup benchmark (a child process, started by call-setup-gateway.ts): what any Node
 * process between a SIP/UDP trunk and SIP-over-WebSocket browsers costs before it does any SIP work. It forwards
 * datagrams from the trunk to an agent's WebSocket (a new Call-ID goes to the next agent, round robin; the rest
 * of the call follows it) and every WebSocket message back to the trunk, byte for byte. The only look inside a
 * message is finding its Call-ID. Latency through it is the "Node + loopback" part of the gateway's latency.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { WebSocketServer, type WebSocket } from 'ws';

const CALL_ID = /\r\n(?:Call-ID|i)[ \t]*:[ \t]*([^\r\n]+)/i;

async function main(): Promise<void> {
  const udp = dgram.createSocket('udp4');
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  udp.setRecvBufferSize(4 * 1024 * 1024);
  udp.setSendBufferSize(4 * 1024 * 1024);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/sip', perMessageDeflate: false, handleProtocols: () => 'sip' });
  await once(wss, 'listening');

  const agents: WebSocket[] = [];
  const byCall = new Map<string, WebSocket>();
  let next = 0;
  let trunk: { address: string; port: number } | undefined;

  wss.on('connection', (ws) => {
    agents.push(ws);
    ws.on('message', (data: Buffer) => {
      if (trunk !== undefined) udp.send(data, trunk.port, trunk.address);
    });
    ws.on('close', () => agents.splice(agents.indexOf(ws), 1));
  });
  udp.on('message', (data, rinfo) => {
    trunk = { address: rinfo.address, port: rinfo.port };
    const id = CALL_ID.exec(data.toString('latin1'))?.[1];
    if (id === undefined || agents.length === 0) return;
    let ws = byCall.get(id);
    if (ws === undefined) {
      ws = agents[next++ % agents.length]!;
      byCall.set(id, ws);
    }
    // The trunk's BYE is the last request of a call: forget it (a retransmitted BYE goes to a new agent, which
    // answers 200 just the same).
    if (data[0] === 0x42 /* B */ && data[1] === 0x59 && data[2] === 0x45) byCall.delete(id);
    ws.send(data, { binary: false });
  });

  const address = wss.address();
  process.send!({ udp: udp.address().port, ws: typeof address === 'string' || address === null ? 0 : address.port });
  process.on('disconnect', () => process.exit(0)); // the benchmark went away
  process.on('SIGTERM', () => {
    udp.close();
    wss.close();
    for (const ws of agents) ws.terminate();
    process.exit(0);
  });
}

await main();
