/**
 * The call-setup benchmark's browser: a SIP-over-WebSocket user agent (RFC 7118) that registers like JsSIP
 * (digest, `+sip.instance`, `reg-id`) and answers every INVITE at once with 200 OK and a Chromium-shaped WebRTC
 * answer (ICE credentials, DTLS fingerprint, setup:active, rtcp-mux, one loopback host candidate). It never does
 * media: the gateway's WebRTC leg waits for ICE checks that do not come, which costs the setup nothing — the
 * call is over (BYE from the trunk) long before any consent or media timeout.
 *
 * The agent records, by call number (read from the From user the trunk chose), when the INVITE arrived and when
 * it sent its 200, in performance.now() ms of this process, which is also the trunk's process.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { parseSipMessage } from '../src/signaling/parser.ts';
import { serializeSipMessage } from '../src/signaling/serializer.ts';
import type { SipMessage, SipRequest, SipResponse } from '../src/signaling/message.ts';
import { contacts } from '../src/signaling/header-accessors.ts';
import { DigestClient, selectChallenge } from '../src/signaling/auth/digest-client.ts';
import { buildReply, buildRequest, newBranch, newTag, newUuid, randomToken } from '../test/support/jssip-wire.ts';

/** Chromium's DTLS fingerprint from test/fixtures/sdp/chromium-answer.sdp; never verified (no DTLS happens). */
const FINGERPRINT = 'sha-256 04:D8:56:80:76:3A:63:AE:9F:25:A0:47:52:D8:10:03:A1:0A:DE:40:F9:EA:47:7B:DD:EF:BA:C7:C3:46:71:36';
const FROM_SEQ = /sip:\+1555(\d{7})@/;

export interface AgentTimeline {
  /** performance.now() when an agent received the INVITE of call n. */
  readonly inviteReceivedAt: number[];
  /** performance.now() right before an agent sent its 200 for call n. */
  readonly okSentAt: number[];
}

export interface AgentCounters {
  invites: number;
  acks: number;
  byes: number;
  cancels: number;
  /** INVITEs whose From carried no call number (should stay 0). */
  unnumbered: number;
  parseErrors: number;
}

export class AnsweringAgent {
  readonly user: string;
  readonly counters: AgentCounters = { invites: 0, acks: 0, byes: 0, cancels: 0, unnumbered: 0, parseErrors: 0 };
  readonly #ws: WebSocket;
  readonly #timeline: AgentTimeline;
  readonly #viaHost = `${randomToken(12)}.invalid`;
  readonly #contactUri: string;
  readonly #instance = newUuid();
  readonly #mediaPort: number;
  #pending: ((res: SipResponse) => void) | undefined;

  private constructor(ws: WebSocket, user: string, timeline: AgentTimeline, mediaPort: number) {
    this.#ws = ws;
    this.user = user;
    this.#timeline = timeline;
    this.#mediaPort = mediaPort;
    this.#contactUri = `sip:${randomToken(8)}@${this.#viaHost};transport=ws`;
    ws.on('message', (data: Buffer) => this.#receive(data));
    ws.on('error', () => {});
  }

  /** Opens the WebSocket (`sip` subprotocol); `mediaPort` is the port our answers name. */
  static async connect(url: string, user: string, timeline: AgentTimeline, mediaPort: number): Promise<AnsweringAgent> {
    const ws = new WebSocket(url, 'sip', { perMessageDeflate: false, handshakeTimeout: 5000 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    if (ws.protocol !== 'sip') throw new Error(`server chose WebSocket subprotocol "${ws.protocol}", not "sip"`);
    return new AnsweringAgent(ws, user, timeline, mediaPort);
  }

  /** REGISTER with digest, as JsSIP's Registrator does; resolves when the registrar lists our binding. */
  async register(domain: string, password: string): Promise<void> {
    const aor = `sip:${this.user}@${domain}`;
    const callId = randomToken(22);
    const fromTag = newTag();
    const digest = new DigestClient({ username: this.user, password });
    let authorization: [string, string] | undefined;
    for (let cseq = 1; cseq <= 2; cseq++) {
      const request = buildRequest({
        method: 'REGISTER', uri: `sip:${domain}`, via: `SIP/2.0/WS ${this.#viaHost};branch=${newBranch()}`,
        to: `<${aor}>`, from: `<${aor}>;tag=${fromTag}`, callId, cseq,
        headers: [
          ...(authorization ? [authorization] : []),
          ['Contact', `<${this.#contactUri}>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:${this.#instance}>";expires=600`],
          ['Expires', '600'],
        ],
        userAgent: 'bench-agent',
      });
      const response = await this.#request(request);
      if (response.status === 401) {
        const challenge = selectChallenge(response.headers.getAll('WWW-Authenticate'));
        if (challenge === undefined) throw new Error('401 without a usable digest challenge');
        authorization = ['Authorization', digest.authorize(challenge, 'REGISTER', request.uri)];
        continue;
      }
      if (response.status >= 300) throw new Error(`REGISTER ${this.user}: ${response.status} ${response.reason}`);
      const list = contacts(response);
      if (list === '*' || !list.some((c) => c.uri === this.#contactUri)) throw new Error(`REGISTER ${this.user}: our binding is not listed`);
      return;
    }
    throw new Error(`REGISTER ${this.user}: challenged twice`);
  }

  #request(request: SipRequest): Promise<SipResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${request.method} timed out`)), 5000);
      this.#pending = (res) => {
        clearTimeout(timer);
        resolve(res);
      };
      this.#send(request);
    });
  }

  #send(msg: SipMessage): void {
    this.#ws.send(serializeSipMessage(msg), { binary: false });
  }

  #receive(data: Buffer): void {
    const now = performance.now();
    let msg: SipMessage;
    try {
      msg = parseSipMessage(data);
    } catch {
      this.counters.parseErrors++;
      return;
    }
    if (msg.type === 'response') {
      if (msg.status >= 200) {
        const pending = this.#pending;
        this.#pending = undefined;
        pending?.(msg);
      }
      return;
    }
    switch (msg.method) {
      case 'INVITE':
        this.#answer(msg, now);
        return;
      case 'ACK':
        this.counters.acks++;
        return;
      case 'BYE':
        this.counters.byes++;
        this.#send(buildReply(msg, 200));
        return;
      case 'CANCEL':
        this.counters.cancels++;
        this.#send(buildReply(msg, 200));
        return;
      default:
        this.#send(buildReply(msg, 200));
    }
  }

  #answer(invite: SipRequest, receivedAt: number): void {
    this.counters.invites++;
    const seqText = FROM_SEQ.exec(invite.headers.get('From') ?? '')?.[1];
    const seq = seqText === undefined ? -1 : Number(seqText);
    if (seq < 0) this.counters.unnumbered++;
    else this.#timeline.inviteReceivedAt[seq] = receivedAt;
    if (invite.headers.has('To') && /;\s*tag=/i.test(invite.headers.get('To')!)) {
      // A re-INVITE (session refresh): answer with the same kind of SDP, nothing is timed.
      this.#send(buildReply(invite, 200, { headers: [['Contact', `<${this.#contactUri}>`]], body: this.#sdp(invite.body.toString('utf8')) }));
      return;
    }
    const reply = buildReply(invite, 200, { toTag: newTag(), headers: [['Contact', `<${this.#contactUri}>`]], body: this.#sdp(invite.body.toString('utf8')) });
    const bytes = serializeSipMessage(reply);
    if (seq >= 0) this.#timeline.okSentAt[seq] = performance.now();
    this.#ws.send(bytes, { binary: false });
  }

  /** A Chromium-shaped answer to the gateway's WebRTC offer: PCMU (+ telephone-event when offered). */
  #sdp(offer: string): string {
    const pcmu = /a=rtpmap:(\d+) PCMU\/8000/i.exec(offer)?.[1] ?? '0';
    const dtmf = /a=rtpmap:(\d+) telephone-event\/8000/i.exec(offer)?.[1];
    const mid = /a=mid:(\S+)/.exec(offer)?.[1] ?? '0';
    const pts = dtmf === undefined ? pcmu : `${pcmu} ${dtmf}`;
    const port = this.#mediaPort;
    return [
      'v=0', `o=- ${BigInt.asUintN(62, randomBytes(8).readBigUInt64BE())} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0',
      `a=group:BUNDLE ${mid}`, 'a=msid-semantic: WMS', `m=audio ${port} UDP/TLS/RTP/SAVPF ${pts}`, 'c=IN IP4 127.0.0.1',
      'a=rtcp:9 IN IP4 0.0.0.0', `a=candidate:1306231589 1 udp 2122194687 127.0.0.1 ${port} typ host generation 0`,
      `a=ice-ufrag:${randomToken(4)}`, `a=ice-pwd:${randomBytes(18).toString('base64')}`, 'a=ice-options:trickle',
      `a=fingerprint:${FINGERPRINT}`, 'a=setup:active', `a=mid:${mid}`, 'a=sendrecv', 'a=rtcp-mux',
      `a=rtpmap:${pcmu} PCMU/8000`, ...(dtmf === undefined ? [] : [`a=rtpmap:${dtmf} telephone-event/8000`]),
      `a=ssrc:${randomBytes(4).readUInt32BE()} cname:${randomToken(16)}`, '',
    ].join('\r\n');
  }

  close(): void {
    this.#ws.close();
  }
}
