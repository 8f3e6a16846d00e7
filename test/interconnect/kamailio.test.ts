/**
 * A real Kamailio (Debian's 5.6, test/interconnect/kamailio.cfg) drives OUR media node through its rtpengine
 * module, exactly as it drives rtpengine: a browser-like phone (SIP over WebSocket, real ICE/DTLS-SRTP from werift,
 * restricted to loopback) registers with Kamailio and calls a SIPp trunk that echoes RTP. Kamailio's
 * rtpengine_offer/answer make the node bridge DTLS-SRTP ↔ RTP/AVP; audio goes both ways (the phone's markers come
 * back through node → SIPp → node); hanging up (BYE), being refused (486) or cancelling (CANCEL) makes Kamailio's
 * rtpengine_delete() reach the node, which then holds nothing. The other direction too: SIPp calls the registered
 * phone through Kamailio. A relay between Kamailio and the node keeps what Kamailio really sent over ng: every
 * datagram must parse on our node without a warning (and can be saved as fixtures, see fixtures/README.md).
 *
 * The same flow from headless Chromium inside a network namespace: kamailio-browser.e2e.test.ts.
 */
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BencodeDict } from '../../src/ng/bencode.ts';
import { NgClient, parseQueryReply } from '../../src/ng/ng-client.ts';
import { parseNgCommand } from '../../src/ng/ng-command.ts';
import { TestPhone } from '../support/test-phone.ts';
import { freePort, startSipp, waitFor, type SippPeer } from '../gateway/harness.ts';
import { describeWithKamailio, ngCommandsFor } from './helpers/kamailio-suite.ts';
import { startNgRelay, type NgRelay } from './helpers/ng-relay.ts';
import { startKamailio, startMediaNode, stopAll, type KamailioProcess, type MediaNodeProcess } from './helpers/processes.ts';

vi.setConfig({ testTimeout: 45_000, hookTimeout: 45_000 });

/** UPDATE_INTERCONNECT_FIXTURES=1 saves the ng datagrams Kamailio sent as fixtures (kamailio-fixtures.test.ts). */
const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const saveFixtures = process.env['UPDATE_INTERCONNECT_FIXTURES'] === '1';

describeWithKamailio('Kamailio (rtpengine module) drives our media node: WebSocket phone ↔ SIPp trunk', () => {
  let node: MediaNodeProcess;
  let kamailio: KamailioProcess;
  let ng: NgClient;
  /** Between Kamailio and the node: every ng datagram Kamailio sent, as it sent it. */
  let relay: NgRelay;
  let phone: TestPhone;
  let trunkPort: number;
  const sipps: SippPeer[] = [];

  beforeAll(async () => {
    // 30000-39999 here, 40000-49999 in two-nodes.test.ts, 50000+ in the gateway harness: no two files share a range.
    const mediaMin = 30000 + 200 * Math.floor(Math.random() * 50);
    // The node first: Kamailio pings it once at start-up and disables a node that does not answer.
    node = await startMediaNode({ ngPort: await freePort(), portMin: mediaMin, portMax: mediaMin + 99, logLevel: 'debug' });
    relay = await startNgRelay({ host: '127.0.0.1', port: node.ngPort });
    trunkPort = await freePort();
    const started = Date.now();
    kamailio = await startKamailio({
      sipPort: await freePort(),
      wsPort: await freePort(),
      ng: relay.ng,
      trunk: `sip:127.0.0.1:${trunkPort}`,
    });
    console.info(`[kamailio] started and answering in ${Date.now() - started} ms`);
    await kamailio.process.waitForLine((l) => /rtpengine instance <udp:127\.0\.0\.1:\d+> found/.test(l), 'the rtpengine module finding our node', 5000);
    ng = await NgClient.open({ address: node.ng });
    phone = await TestPhone.connect({ url: kamailio.wsUrl, user: 'alice', domain: '127.0.0.1' });
    await phone.register();
  });

  afterEach(async () => {
    for (const s of sipps.splice(0)) await s.stop();
  });

  afterAll(async () => {
    await phone?.close();
    await ng?.close();
    await relay?.close();
    if (kamailio) {
      const exit = await kamailio.stop();
      // Kamailio ends on SIGTERM by itself (the SIGKILL fallback is not needed).
      expect(exit, kamailio.process.output(2000)).toEqual({ code: 0, signal: null });
    }
    await stopAll();
  });

  /** What Kamailio sent for one call and command; each must parse on our node without a single warning. */
  function kamailioSent(command: string, callId: string, fixture?: string): BencodeDict {
    const message = relay.requests(command, callId)[0];
    expect(message?.dict, `Kamailio sent no ${command} for ${callId}`).toBeDefined();
    expect(parseNgCommand(message!.dict!)).toMatchObject({ command, warnings: [] });
    if (saveFixtures && fixture !== undefined) writeFileSync(path.join(FIXTURES, fixture), message!.raw);
    return message!.dict!;
  }

  const nodeCalls = async (): Promise<string[]> => (await ng.request({ command: 'list' }))['calls'] as string[];

  /** The ng commands the node logged for a call, once its log shows a delete (the pipe may lag the UDP reply). */
  const commandsUntilDelete = (callId: string): Promise<string[]> =>
    waitFor(() => {
      const commands = ngCommandsFor(node.process, callId);
      return commands.includes('delete') ? commands : undefined;
    }, `the node logging a delete for ${callId}`, 5000);

  /** What failed: Kamailio's log, the node's log and SIPp's trace. */
  function diagnose(error: unknown, uas?: SippPeer): Error {
    return new Error(
      [(error as Error).message, kamailio.process.output(6000), node.process.output(4000), uas ? uas.messages().slice(-6000) : ''].join('\n'),
      { cause: error },
    );
  }

  it('bridges the call: DTLS-SRTP to the phone, plain RTP/AVP to the trunk; audio both ways; BYE → rtpengine_delete empties the node', async () => {
    const uas = await startSipp({ scenario: '../interconnect/kamailio-uas.xml', port: trunkPort, echo: true, timeoutSeconds: 30 });
    sipps.push(uas);
    try {
      const setupStart = Date.now();
      const call = await phone.call('+15551230001');
      const setupMs = Date.now() - setupStart;
      const sending = call.startSending({ pt: 0, everyMs: 20 });
      const audioStart = Date.now();
      // 25 of our own packets back (marker frames count ticks, not packets: the first ticks go before ICE is up).
      await call.waitForAudio((a) => a.packetsReceived >= 25 && a.markers.some((m) => m.stream === sending.stream));
      const audioMs = Date.now() - audioStart;
      const newest = call.audio.markers.filter((m) => m.stream === sending.stream).at(-1)!;
      const roundTripMs = Date.now() - newest.sentAt; // upper bound: phone → node → SIPp → node → phone

      // What each side was told: the trunk got plain RTP (no ICE, no DTLS), the phone DTLS-SRTP with ICE on loopback.
      const invite = uas.messages().split(/-{20,}/).find((m) => /^\s*INVITE sip:/m.test(m)) ?? '';
      expect(invite).toMatch(/^m=audio \d+ RTP\/AVP /m);
      expect(invite).not.toMatch(/a=(candidate|fingerprint|ice-ufrag|setup|crypto)/);
      expect(invite).toMatch(/^Record-Route: /m);
      const ok = phone.trace.find((t) => t.dir === 'in' && t.msg.type === 'response' && t.msg.status === 200 && /CSeq: \d+ INVITE/.test(t.text));
      expect(ok?.text).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF /m);
      expect(ok?.text).toMatch(/^a=fingerprint:sha-256 /m);
      expect(ok?.text).toMatch(/^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/m);

      // The node holds the call under Kamailio's Call-ID, both sides moving packets.
      expect(await nodeCalls()).toEqual([call.callId]);
      const stats = parseQueryReply(call.callId, await ng.request({ command: 'query', 'call-id': call.callId }), Date.now());
      const byKind = Object.fromEntries(stats.legs.map((l) => [l.kind, l]));
      expect(Object.keys(byKind).sort()).toEqual(['plain', 'webrtc']);
      expect(byKind['webrtc']!.packetsIn).toBeGreaterThan(20); // phone → node (SRTP)
      expect(byKind['plain']!.packetsIn).toBeGreaterThan(20); // SIPp's echo → node (RTP)
      expect(byKind['plain']!.remote).toEqual({ address: '127.0.0.1', port: uas.mediaPort });

      sending.stop();
      await call.hangup();
      await call.ended;
      await waitFor(async () => (await nodeCalls()).length === 0, 'the node empty after BYE', 5000);
      const commands = await commandsUntilDelete(call.callId);
      expect(commands[0]).toBe('offer');
      expect(commands).toContain('answer');
      expect(commands.at(-1)).toBe('delete');
      // Kamailio 5.6's own words for the classic flags (what RemoteMediaNode sends for the same jobs).
      expect(kamailioSent('offer', call.callId, 'kamailio-5.6-offer-to-plain.bencode')).toMatchObject({
        ICE: 'remove', 'transport-protocol': 'RTP/AVP', replace: ['origin', 'session-connection'], 'from-tag': call.localTag,
      });
      expect(kamailioSent('answer', call.callId, 'kamailio-5.6-answer-to-webrtc.bencode')).toMatchObject({
        ICE: 'force', DTLS: 'passive', 'transport-protocol': 'UDP/TLS/RTP/SAVPF', 'from-tag': call.localTag,
      });
      kamailioSent('delete', call.callId, 'kamailio-5.6-delete.bencode');
      await uas.succeeded(10_000);
      console.info(
        `[kamailio] INVITE→200 through Kamailio + node: ${setupMs} ms; 25 packets echoed back ${audioMs} ms after sending began ` +
          `(phone sent ${call.audio.packetsSent}); last marker round trip ≤ ${roundTripMs} ms; ng commands: ${commands.join(', ')}`,
      );
    } catch (error) {
      throw diagnose(error, uas);
    }
  });

  it('the other way: the trunk calls the registered phone; the node offers it WebRTC, the trunk gets plain RTP; the trunk hangs up', async () => {
    const uac = await startSipp({
      scenario: '../interconnect/kamailio-uac.xml',
      remote: `127.0.0.1:${kamailio.sipPort}`,
      service: 'alice',
      port: trunkPort,
      echo: true,
      pauseMs: 4000,
      timeoutSeconds: 30,
    });
    sipps.push(uac);
    try {
      const call = await phone.waitForIncoming(10_000);
      // Kamailio's rtpengine_offer (ICE=force UDP/TLS/RTP/SAVPF) made the node offer the phone DTLS-SRTP with ICE.
      expect(call.offer).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF /m);
      expect(call.offer).toMatch(/^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/m);
      await call.answer();
      const sending = call.startSending({ pt: 0, everyMs: 20 });
      await call.waitForAudio((a) => a.packetsReceived >= 25 && a.markers.some((m) => m.stream === sending.stream));
      // The answer the trunk got is plain RTP/AVP.
      const ok = uac.messages().split(/-{20,}/).find((m) => /^\s*SIP\/2\.0 200 OK/m.test(m) && /CSeq: 1 INVITE/.test(m)) ?? '';
      expect(ok).toMatch(/^m=audio \d+ RTP\/AVP /m);
      expect(ok).not.toMatch(/a=(candidate|fingerprint|ice-ufrag|setup)/);
      // SIPp's BYE after its pause: routed through Kamailio (rtpengine_delete) to the phone.
      const ended = await call.ended;
      expect(ended.by).toBe('remote');
      await waitFor(async () => (await nodeCalls()).length === 0, 'the node empty after the trunk hung up', 5000);
      const commands = await commandsUntilDelete(call.callId);
      expect(commands[0]).toBe('offer');
      expect(commands).toContain('answer');
      expect(commands.at(-1)).toBe('delete');
      expect(kamailioSent('offer', call.callId, 'kamailio-5.6-offer-to-webrtc.bencode')).toMatchObject({
        ICE: 'force', DTLS: 'passive', 'transport-protocol': 'UDP/TLS/RTP/SAVPF',
      });
      expect(kamailioSent('answer', call.callId, 'kamailio-5.6-answer-to-plain.bencode')).toMatchObject({ ICE: 'remove', 'transport-protocol': 'RTP/AVP' });
      await uac.succeeded(10_000);
    } catch (error) {
      throw diagnose(error, uac);
    }
  });

  it('a refused call (486 from the trunk) is deleted on the node by the failure route', async () => {
    const uas = await startSipp({ scenario: 'gw-uas-busy.xml', port: trunkPort, timeoutSeconds: 30 });
    sipps.push(uas);
    try {
      const call = phone.invite('+15551230002');
      expect(await call.answered.catch((e: unknown) => e)).toMatchObject({ code: 'PHONE_REJECTED', status: 486 });
      await waitFor(async () => (await nodeCalls()).length === 0, 'the node empty after 486', 5000);
      expect(await commandsUntilDelete(call.callId)).toEqual(['offer', 'delete']);
      await uas.succeeded(10_000);
    } catch (error) {
      throw diagnose(error, uas);
    }
  });

  it('a call cancelled while ringing is deleted on the node (rtpengine_delete on CANCEL)', async () => {
    const uas = await startSipp({ scenario: '../interconnect/kamailio-uas-cancel.xml', port: trunkPort, timeoutSeconds: 30 });
    sipps.push(uas);
    try {
      const call = phone.invite('+15551230003');
      await waitFor(() => call.state === 'early', 'ringing', 10_000);
      await waitFor(async () => (await nodeCalls()).includes(call.callId), 'the call on the node while ringing', 5000);
      const final = await call.hangup();
      expect(final?.status).toBe(487);
      await waitFor(async () => (await nodeCalls()).length === 0, 'the node empty after CANCEL', 5000);
      const commands = await commandsUntilDelete(call.callId);
      expect(commands[0]).toBe('offer');
      expect(commands.filter((c) => c === 'delete').length).toBeGreaterThanOrEqual(1);
      expect(commands).not.toContain('answer');
      await uas.succeeded(10_000);
    } catch (error) {
      throw diagnose(error, uas);
    }
  });
});
