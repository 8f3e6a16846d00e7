/**
 * Test scaffolding, not a product: a tiny SIP-over-WebSocket relay so two test phones can call each other
 * before the gateway exists. It is a stateless proxy (RFC 3261 §16.11) with a fake registrar:
 *  - REGISTER: 401 with a DigestServer challenge, then 200 listing the binding (expires=0 removes it);
 *  - initial INVITE: optionally 407 first (Proxy-Authenticate), then relayed with a Record-Route;
 *  - other requests: the top Route, when ours, is removed; the target connection is the one registered for the
 *    Request-URI user, or the one that used it as its Contact user (the in-dialog remote target);
 *  - a Via of ours is pushed, its branch derived from the incoming one (so a CANCEL follows its INVITE) and a
 *    `conn` parameter naming the incoming connection; a response pops it and goes there.
 * `duplicate2xx` sends every 2xx to INVITE twice, to make the caller re-ACK a "retransmission".
 */
import { createHash } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import { serializeSipMessage } from '../../src/signaling/serializer.ts';
import { createResponseTo, type SipMessage, type SipRequest } from '../../src/signaling/message.ts';
import { contacts, cseq, maxForwards, routes, toTag, topVia } from '../../src/signaling/header-accessors.ts';
import { parseUri } from '../../src/signaling/uri.ts';
import { DigestServer } from '../../src/signaling/auth/digest-server.ts';
import { computeHa1 } from '../../src/signaling/auth/digest.ts';

export interface RelayOptions {
  /** user → password; a REGISTER (and, with challengeInvites, an INVITE) must authenticate as one of them. */
  users: Record<string, string>;
  realm?: string;
  challengeInvites?: boolean;
  duplicate2xx?: boolean;
}

export interface RelayedMessage {
  from: number;
  msg: SipMessage;
}

export class WsSipRelay {
  readonly url: string;
  readonly port: number;
  /** Every message the relay received, in order. */
  readonly received: RelayedMessage[] = [];
  readonly #server: WebSocketServer;
  readonly #options: RelayOptions;
  readonly #digest: DigestServer;
  readonly #connections = new Map<number, WebSocket>();
  readonly #bindings = new Map<string, { conn: number; contact: string }>();
  readonly #contactUsers = new Map<string, number>();
  #nextId = 1;

  private constructor(server: WebSocketServer, options: RelayOptions) {
    this.#server = server;
    this.#options = options;
    // MD5 first, then SHA-256: the gateway's default order (digest-server.ts).
    this.#digest = new DigestServer({ realm: options.realm ?? 'relay.test' });
    this.port = (server.address() as { port: number }).port;
    this.url = `ws://127.0.0.1:${this.port}/sip`;
    server.on('connection', (ws) => {
      const id = this.#nextId++;
      this.#connections.set(id, ws);
      ws.on('message', (data) => this.#onFrame(id, Buffer.from(data as Buffer)));
      ws.on('close', () => this.#connections.delete(id));
    });
  }

  static async start(options: RelayOptions): Promise<WsSipRelay> {
    const server = new WebSocketServer({
      host: '127.0.0.1', port: 0, path: '/sip',
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return new WsSipRelay(server, options);
  }

  requests(method: string): SipRequest[] {
    return this.received.flatMap((r) => (r.msg.type === 'request' && r.msg.method === method ? [r.msg] : []));
  }

  async close(): Promise<void> {
    for (const ws of this.#connections.values()) ws.terminate();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #onFrame(from: number, data: Buffer): void {
    let msg: SipMessage;
    try {
      msg = parseSipMessage(data);
    } catch {
      return;
    }
    this.received.push({ from, msg });
    for (const contact of safeContacts(msg)) {
      const user = sipUser(contact);
      if (user !== undefined) this.#contactUsers.set(user, from);
    }
    if (msg.type === 'response') return this.#relayResponse(msg);
    if (msg.method === 'REGISTER') return this.#register(from, msg);
    this.#relayRequest(from, msg);
  }

  #register(from: number, request: SipRequest): void {
    const verdict = this.#digest.verify('REGISTER', request.headers.getAll('authorization'), (user, realm, algorithm) => {
      const password = this.#options.users[user];
      return password === undefined ? undefined : computeHa1(algorithm, user, realm, password);
    });
    if (!verdict.ok) {
      const challenge = createResponseTo(request, 401, 'Unauthorized', 'relay');
      for (const value of this.#digest.challenges(verdict.reason === 'stale')) challenge.headers.append('WWW-Authenticate', value);
      return this.#send(from, challenge);
    }
    const aor = sipUser(request.headers.get('to') ?? '') ?? '';
    const contact = request.headers.get('contact') ?? '';
    const expires = Number(/;expires=(\d+)/.exec(contact)?.[1] ?? request.headers.get('expires') ?? 600);
    const ok = createResponseTo(request, 200, 'OK', 'relay');
    if (expires === 0) {
      this.#bindings.delete(aor);
    } else {
      this.#bindings.set(aor, { conn: from, contact });
      ok.headers.append('Contact', `${contact.replace(/;expires=\d+/, '')};expires=${expires}`);
    }
    this.#send(from, ok);
  }

  #relayRequest(from: number, request: SipRequest): void {
    const initialInvite = request.method === 'INVITE' && toTag(request) === undefined;
    if (initialInvite && this.#options.challengeInvites) {
      const verdict = this.#digest.verify('INVITE', request.headers.getAll('proxy-authorization'), (user, realm, algorithm) => {
        const password = this.#options.users[user];
        return password === undefined ? undefined : computeHa1(algorithm, user, realm, password);
      });
      if (!verdict.ok) {
        const challenge = createResponseTo(request, 407, 'Proxy Authentication Required', 'relay');
        for (const value of this.#digest.challenges(verdict.reason === 'stale')) challenge.headers.append('Proxy-Authenticate', value);
        return this.#send(from, challenge);
      }
    }
    const top = routes(request)[0];
    if (top && top.uri.includes(`:${this.port}`)) request.headers.shift('route');
    const user = sipUser(request.uri);
    const target = (user === undefined ? undefined : this.#bindings.get(user)?.conn ?? this.#contactUsers.get(user));
    const targetWs = target === undefined ? undefined : this.#connections.get(target);
    if (target === undefined || targetWs === undefined || targetWs.readyState !== targetWs.OPEN) {
      if (request.method !== 'ACK') this.#send(from, createResponseTo(request, 404, 'Not Found', 'relay'));
      return;
    }
    const hops = maxForwards(request) ?? 70;
    if (hops <= 0) return this.#send(from, createResponseTo(request, 483, 'Too Many Hops', 'relay'));
    request.headers.set('Max-Forwards', String(hops - 1));
    // §16.11: a stateless proxy's branch is a function of the incoming one, so a CANCEL or non-2xx ACK matches.
    const incoming = topVia(request).params.get('branch') ?? '';
    const branch = `z9hG4bK${createHash('sha1').update(`${incoming}|${cseq(request).method === 'CANCEL' ? 'INVITE' : cseq(request).method === 'ACK' ? 'INVITE' : cseq(request).method}`).digest('hex').slice(0, 16)}`;
    request.headers.prepend('Via', `SIP/2.0/WS relay.invalid;branch=${branch};conn=${from}`);
    if (initialInvite) request.headers.prepend('Record-Route', `<sip:127.0.0.1:${this.port};transport=ws;lr>`);
    this.#send(target, request);
  }

  #relayResponse(response: SipMessage): void {
    const via = topVia(response);
    if (via.host !== 'relay.invalid') return;
    const conn = Number(via.params.get('conn'));
    response.headers.shift('via');
    this.#send(conn, response);
    if (this.#options.duplicate2xx && response.type === 'response' && response.status >= 200 && response.status < 300 && cseq(response).method === 'INVITE') {
      this.#send(conn, response);
    }
  }

  #send(conn: number, msg: SipMessage): void {
    const ws = this.#connections.get(conn);
    if (ws && ws.readyState === ws.OPEN) ws.send(serializeSipMessage(msg).toString('utf8'));
  }
}

function safeContacts(msg: SipMessage): string[] {
  try {
    const list = contacts(msg);
    return list === '*' ? [] : list.map((c) => c.uri);
  } catch {
    return [];
  }
}

/** The user part of a SIP URI (or of the URI inside a name-addr), undefined when there is none. */
function sipUser(text: string): string | undefined {
  const inner = /<([^>]*)>/.exec(text)?.[1] ?? text;
  try {
    const uri = parseUri(inner.trim());
    return uri.kind === 'sip' ? uri.user : undefined;
  } catch {
    return undefined;
  }
}
