/**
 * The gateway with its media on two remote media nodes (`node src/media-node.ts`, child processes with disjoint
 * port ranges) and none in-process (`media.local: false`). A browser-like phone calls the built-in echo service:
 * calls spread over both nodes and their audio comes back. One node is killed (SIGKILL) mid-call: the calls it
 * carried end on both SIP legs (the phone gets BYE, the services peer gets BYE), the others keep their audio,
 * and new calls land on the surviving node and have audio.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { NgClient } from '../../src/ng/ng-client.ts';
import { MediaDispatcher } from '../../src/rtp-bridge/media-dispatcher.ts';
import { audioFlows, dispatcherOf, echoCall, type LiveCall } from '../support/dispatched-echo.ts';
import { TestPhone } from '../support/test-phone.ts';
import { freePort, waitFor } from '../gateway/harness.ts';
import { startMediaNode, stopAll, type MediaNodeProcess } from './helpers/processes.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });


describe('gateway over two remote media nodes (media.local: false)', () => {
  let nodeA: MediaNodeProcess;
  let nodeB: MediaNodeProcess;
  let gw: Gateway;
  let phone: TestPhone;
  const ng: NgClient[] = [];
  const servicesEnded: Array<[string, string]> = [];

  beforeAll(async () => {
    const base = 40000 + 200 * Math.floor(Math.random() * 50);
    [nodeA, nodeB] = await Promise.all([
      startMediaNode({ ngPort: await freePort(), portMin: base, portMax: base + 99, label: 'node-a' }),
      startMediaNode({ ngPort: await freePort(), portMin: base + 100, portMax: base + 199, label: 'node-b' }),
    ]);
    const yaml = `
http: { host: 127.0.0.1, port: 0 }
sip:
  listeners:
    - { protocol: udp, host: 127.0.0.1, port: ${await freePort()} }
media:
  bindAddress: 127.0.0.1
  local: false
  nodes:
    - { ng: '${nodeA.ng}', name: node-a }
    - { ng: '${nodeB.ng}', name: node-b }
services: { enabled: true, host: 127.0.0.1, port: ${await freePort()} }
limits: { callsPerMinutePerUser: 100 }
users:
  - { name: alice, password: demo, maxCalls: 20 }
logLevel: silent
`;
    gw = await startGateway(parseConfig(yaml, 'two-nodes test', {}));
    gw.services!.on('call-ended', (callId, reason) => servicesEnded.push([callId, reason]));
    phone = await TestPhone.connect({ url: gw.urls.ws, user: 'alice', password: 'demo', domain: '127.0.0.1' });
    await phone.register();
    for (const node of [nodeA, nodeB]) ng.push(await NgClient.open({ address: node.ng }));
  });

  afterAll(async () => {
    await phone?.close();
    await gw?.close();
    for (const c of ng) await c.close();
    await stopAll();
  });

  const dispatcher = (): MediaDispatcher => dispatcherOf(gw);



  const nodeCalls = async (i: number): Promise<string[]> => (await ng[i]!.request({ command: 'list' }))['calls'] as string[];

  it('spreads calls over both nodes, audio comes back on each; killing one ends its calls on both legs; new calls go to the survivor', async () => {
    const calls: LiveCall[] = [];
    for (let i = 0; i < 4; i++) calls.push(await echoCall(gw, phone));
    expect(calls.map((c) => c.node).sort()).toEqual(['node-a', 'node-a', 'node-b', 'node-b']);
    // Each node really holds its two sessions (asked over ng, as Kamailio would).
    expect((await nodeCalls(0)).sort()).toEqual(calls.filter((c) => c.node === 'node-a').map((c) => c.mediaId).sort());
    expect((await nodeCalls(1)).sort()).toEqual(calls.filter((c) => c.node === 'node-b').map((c) => c.mediaId).sort());
    for (const c of calls) await audioFlows(c);

    const onA = calls.filter((c) => c.node === 'node-a');
    const onB = calls.filter((c) => c.node === 'node-b');
    const servicesBefore = servicesEnded.length;
    const killedAt = Date.now();
    nodeA.process.kill('SIGKILL');
    await nodeA.process.exited;

    // Pinged every second, out after 3 misses: both calls on node-a end, from the gateway, with BYE on both legs.
    const ends = await Promise.all(onA.map((c) => c.call.ended));
    const detectedMs = Date.now() - killedAt;
    expect(ends.map((e) => e.by)).toEqual(['remote', 'remote']);
    for (const c of onA) {
      expect(c.call.dialog).toBeDefined();
      const bye = phone.trace.find((t) => t.dir === 'in' && t.msg.type === 'request' && t.msg.method === 'BYE' && t.text.includes(c.call.callId));
      expect(bye, `BYE from the gateway for ${c.call.callId}`).toBeDefined();
    }
    await waitFor(() => servicesEnded.length >= servicesBefore + 2, 'the services peer ending the two calls', 5000);
    expect(servicesEnded.slice(servicesBefore).map(([, reason]) => reason)).toEqual(['bye', 'bye']);
    expect(detectedMs).toBeGreaterThan(1500);
    expect(detectedMs).toBeLessThan(6000);
    expect(dispatcher().status().find((s) => s.name === 'node-a')).toMatchObject({ state: 'down', calls: 0 });

    // The calls on node-b never noticed.
    for (const c of onB) {
      expect(c.call.state).toBe('confirmed');
      await audioFlows(c);
    }

    // New calls: all on node-b, with audio.
    const fresh = [await echoCall(gw, phone), await echoCall(gw, phone)];
    expect(fresh.map((c) => c.node)).toEqual(['node-b', 'node-b']);
    expect((await nodeCalls(1)).sort()).toEqual([...onB, ...fresh].map((c) => c.mediaId).sort());

    for (const c of [...onB, ...fresh]) {
      c.sending.stop();
      await c.call.hangup();
      await c.call.ended;
    }
    // Hung up: the node holds nothing (the gateway's delete reached it), nor does the dispatcher.
    await waitFor(async () => (await nodeCalls(1)).length === 0, 'node-b empty after hang-ups', 5000);
    expect(await gw.media.list()).toEqual([]);
    console.info(`[two-nodes] node-a SIGKILL → both of its calls ended on both legs after ${detectedMs} ms`);
  });
});
