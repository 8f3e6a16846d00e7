/**
 * A scripted SIP-over-WebSocket peer (RFC 7118) standing in for the gateway's signalling in the page tests:
 * a digest-authenticating registrar (RFC 3261 §22, RFC 2617 qop=auth) and a callee whose answer depends on
 * the dialled user. It speaks real SIP to the page's real JsSIP; its SDP answers are well-formed but point at
 * a port where nothing listens, so calls reach "active" without media — enough for the page's call UI.
 *
 *   busy → 486, nobody → 404, away → 480, decline → 603, trunk → 503 "Trunk Unavailable", anything else →
 *   180 then 200 OK.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

export interface SipMessage {
  readonly startLine: string;
  readonly method: string | null;
  readonly status: number | null;
  readonly headers: ReadonlyMap<string, string[]>;
  readonly body: string;
  header(name: string): string | undefined;
}

export function parseSip(text: string): SipMessage {
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? text : text.slice(0, split);
  const body = split === -1 ? '' : text.slice(split + 4);
  const [startLine = '', ...lines] = head.split('\r\n');
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon < 1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const list = headers.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(name, list);
  }
  const status = /^SIP\/2\.0 (\d{3})/.exec(startLine);
  return {
    startLine,
    method: status ? null : (startLine.split(' ')[0] ?? null),
    status: status ? Number(status[1]) : null,
    headers,
    body,
    header: (name) => headers.get(name.toLowerCase())?.[0],
  };
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const token = (): string => randomBytes(6).toString('hex');

function digestParams(header: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const m of header.replace(/^Digest\s+/i, '').matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)) {
    params[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? '';
  }
  return params;
}

/** A fake DTLS fingerprint; Chromium checks its form, not its value, until DTLS starts. */
const FINGERPRINT = Array.from(randomBytes(32), (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');

function sdp(direction: string, setup: 'passive' | 'actpass', mid: string): string {
  return [
    'v=0',
    `o=- ${Date.now()} 1 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    `a=group:BUNDLE ${mid}`,
    'a=ice-lite',
    'a=msid-semantic: WMS',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 126',
    'c=IN IP4 127.0.0.1',
    `a=mid:${mid}`,
    'a=rtpmap:111 opus/48000/2',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:126 telephone-event/8000',
    'a=rtcp-mux',
    `a=setup:${setup}`,
    `a=fingerprint:sha-256 ${FINGERPRINT}`,
    'a=ice-ufrag:peer',
    'a=ice-pwd:peerpeerpeerpeerpeerpeer',
    'a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host',
    'a=end-of-candidates',
    `a=${direction}`,
    '',
  ].join('\r\n');
}

function answerFor(offer: string): string {
  const mid = /^a=mid:(\S+)/m.exec(offer)?.[1] ?? '0';
  const offered = /^a=(sendrecv|sendonly|recvonly|inactive)/m.exec(offer)?.[1] ?? 'sendrecv';
  const direction = { sendrecv: 'sendrecv', sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive' }[offered]!;
  return sdp(direction, 'passive', mid);
}

const FAILURES: Record<string, [number, string]> = {
  busy: [486, 'Busy Here'],
  nobody: [404, 'Not Found'],
  away: [480, 'Temporarily Unavailable'],
  decline: [603, 'Decline'],
  trunk: [503, 'Trunk Unavailable'],
};

export interface SipPeerOptions {
  /** user → password; default alice/bob with "demo". */
  readonly users?: Record<string, string>;
  readonly realm?: string;
}

export interface ReceivedRequest {
  readonly message: SipMessage;
  readonly socket: WebSocket;
}

export class SipPeer {
  readonly received: ReceivedRequest[] = [];
  /** Responses the page sent to requests we originated. */
  readonly responses: SipMessage[] = [];
  readonly #wss: WebSocketServer;
  readonly #users: Record<string, string>;
  readonly #realm: string;
  readonly #nonces = new Set<string>();
  readonly #contacts = new Map<string, { socket: WebSocket; uri: string }>();
  readonly #pendingInvites = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(server: Server, options: SipPeerOptions = {}) {
    this.#users = options.users ?? { alice: 'demo', bob: 'demo' };
    this.#realm = options.realm ?? '127.0.0.1';
    this.#wss = new WebSocketServer({
      server,
      path: '/sip',
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    this.#wss.on('connection', (socket) => {
      socket.on('message', (data) => this.#onMessage(socket, parseSip(data.toString())));
    });
  }

  requests(method: string): SipMessage[] {
    return this.received.filter((r) => r.message.method === method).map((r) => r.message);
  }

  isRegistered(user: string): boolean {
    return this.#contacts.has(user);
  }

  /** Send an INVITE to a registered user's WebSocket, as the gateway does for an incoming call. */
  invite(user: string, from: { user: string; displayName: string }): string {
    const contact = this.#contacts.get(user);
    if (!contact) throw new Error(`${user} is not registered`);
    const callId = token();
    const body = sdp('sendrecv', 'actpass', '0');
    contact.socket.send(
      [
        `INVITE ${contact.uri} SIP/2.0`,
        `Via: SIP/2.0/WS peer.invalid;branch=z9hG4bK${token()}`,
        'Max-Forwards: 70',
        `From: "${from.displayName}" <sip:${from.user}@${this.#realm}>;tag=${token()}`,
        `To: <sip:${user}@${this.#realm}>`,
        `Call-ID: ${callId}`,
        'CSeq: 1 INVITE',
        `Contact: <sip:${from.user}@peer.invalid;transport=ws>`,
        'Content-Type: application/sdp',
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n'),
    );
    return callId;
  }

  close(): void {
    for (const timer of this.#pendingInvites.values()) clearTimeout(timer);
    for (const client of this.#wss.clients) client.terminate();
    this.#wss.close();
  }

  #onMessage(socket: WebSocket, message: SipMessage): void {
    if (message.status !== null) {
      this.responses.push(message);
      if (message.status >= 200 && message.header('cseq')?.endsWith('INVITE')) this.#ackResponse(socket, message);
      return;
    }
    this.received.push({ message, socket });
    switch (message.method) {
      case 'REGISTER':
        return this.#register(socket, message);
      case 'INVITE':
        return this.#invite(socket, message);
      case 'CANCEL': {
        this.#reply(socket, message, 200, 'OK');
        const timer = this.#pendingInvites.get(message.header('call-id') ?? '');
        if (timer) {
          clearTimeout(timer);
          this.#pendingInvites.delete(message.header('call-id') ?? '');
          this.#reply(socket, { ...message, header: (n) => (n.toLowerCase() === 'cseq' ? message.header('cseq')?.replace('CANCEL', 'INVITE') : message.header(n)) }, 487, 'Request Terminated');
        }
        return;
      }
      case 'ACK':
        return;
      default:
        // BYE, INFO, OPTIONS, UPDATE: accept.
        return this.#reply(socket, message, 200, 'OK');
    }
  }

  #register(socket: WebSocket, message: SipMessage): void {
    const user = /sip:([^@>;]+)@/.exec(message.header('to') ?? '')?.[1] ?? '';
    const auth = message.header('authorization');
    if (!auth) return this.#challenge(socket, message);
    const p = digestParams(auth);
    const password = this.#users[user];
    const ha1 = md5(`${p['username']}:${this.#realm}:${password ?? ''}`);
    const ha2 = md5(`REGISTER:${p['uri']}`);
    const expected = p['qop']
      ? md5(`${ha1}:${p['nonce']}:${p['nc']}:${p['cnonce']}:${p['qop']}:${ha2}`)
      : md5(`${ha1}:${p['nonce']}:${ha2}`);
    if (password === undefined || !this.#nonces.has(p['nonce'] ?? '') || expected !== p['response']) {
      return this.#challenge(socket, message);
    }
    const contactHeader = message.header('contact') ?? '';
    const uri = /<([^>]+)>/.exec(contactHeader)?.[1] ?? '';
    const expires = /expires=(\d+)/.exec(contactHeader)?.[1] ?? message.header('expires') ?? '300';
    if (expires === '0') this.#contacts.delete(user);
    else this.#contacts.set(user, { socket, uri });
    this.#reply(socket, message, 200, 'OK', [`Contact: ${contactHeader.replace(/;expires=\d+/, '')};expires=${expires}`]);
  }

  #challenge(socket: WebSocket, message: SipMessage): void {
    const nonce = token() + token();
    this.#nonces.add(nonce);
    this.#reply(socket, message, 401, 'Unauthorized', [
      `WWW-Authenticate: Digest realm="${this.#realm}", nonce="${nonce}", algorithm=MD5, qop="auth"`,
    ]);
  }

  #invite(socket: WebSocket, message: SipMessage): void {
    const toTag = token();
    const callId = message.header('call-id') ?? '';
    const inDialog = /;tag=/.test(message.header('to') ?? '');
    if (inDialog) {
      // re-INVITE (hold/resume): answer the new offer.
      return this.#reply(socket, message, 200, 'OK', [`Contact: <sip:peer@peer.invalid;transport=ws>`], answerFor(message.body));
    }
    this.#reply(socket, message, 100, 'Trying', [], '', null);
    const user = /^INVITE sip:([^@;]+)@/.exec(message.startLine)?.[1] ?? '';
    const failure = FAILURES[user];
    if (failure) return this.#reply(socket, message, failure[0], failure[1], [], '', toTag);
    this.#reply(socket, message, 180, 'Ringing', [], '', toTag);
    this.#pendingInvites.set(
      callId,
      setTimeout(() => {
        this.#pendingInvites.delete(callId);
        this.#reply(socket, message, 200, 'OK', [`Contact: <sip:${user}@peer.invalid;transport=ws>`], answerFor(message.body), toTag);
      }, 300),
    );
  }

  #ackResponse(socket: WebSocket, response: SipMessage): void {
    // We only originate INVITEs to the page; ACK its final answer (RFC 3261 §13.2.2.4, §17.1.1.3).
    const contact = /<([^>]+)>/.exec(response.header('contact') ?? '')?.[1];
    const requestUri = contact ?? /<([^>]+)>/.exec(response.header('to') ?? '')?.[1] ?? '';
    const via = response.header('via') ?? '';
    const branch = response.status! < 300 ? `z9hG4bK${token()}` : (/branch=([^;]+)/.exec(via)?.[1] ?? '');
    socket.send(
      [
        `ACK ${requestUri} SIP/2.0`,
        `Via: SIP/2.0/WS peer.invalid;branch=${branch}`,
        'Max-Forwards: 70',
        `From: ${response.header('from')}`,
        `To: ${response.header('to')}`,
        `Call-ID: ${response.header('call-id')}`,
        `CSeq: ${response.header('cseq')?.split(' ')[0]} ACK`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
  }

  #reply(
    socket: WebSocket,
    request: SipMessage,
    status: number,
    reason: string,
    extra: string[] = [],
    body = '',
    toTag: string | null = null,
  ): void {
    let to = request.header('to') ?? '';
    if (toTag && !/;tag=/.test(to)) to += `;tag=${toTag}`;
    else if (status > 100 && !/;tag=/.test(to)) to += `;tag=${token()}`;
    const lines = [
      `SIP/2.0 ${status} ${reason}`,
      ...(request.headers.get('via') ?? []).map((v) => `Via: ${v}`),
      `From: ${request.header('from')}`,
      `To: ${to}`,
      `Call-ID: ${request.header('call-id')}`,
      `CSeq: ${request.header('cseq')}`,
      ...extra,
    ];
    if (body) lines.push('Content-Type: application/sdp');
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
    if (socket.readyState === socket.OPEN) socket.send(lines.join('\r\n'));
  }
}
