/**
 * Transaction matching keys: RFC 3261 §17.1.3 (responses to client transactions), §17.2.3 (requests to server
 * transactions, including the RFC 2543 fallback for branches without the magic cookie) and §9.2 (the INVITE a
 * CANCEL targets). Every function here is total on network input: a message whose Via, CSeq or Call-ID cannot
 * be read yields `undefined`, never an exception.
 *
 * Comparison rules: branch and tag parameters compare case-insensitively (§7.3.1: "Unless otherwise stated …
 * parameter values … are case-insensitive"), so they are lower-cased in keys; Call-ID is case-sensitive (§20.8);
 * the sent-by host is case-insensitive (a host name). The Request-URI (RFC 2543 path only) is compared as text
 * with surrounding whitespace trimmed, not with the full §19.1.4 URI equality.
 */
import type { SipMessage, SipRequest } from '../message.ts';
import { MAGIC_COOKIE, parseVia, type Via } from '../via.ts';
import { parseCSeq, type CSeq } from '../cseq.ts';

export interface TopVia {
  via: Via;
  /** Lower-cased branch, or undefined when the Via has none. */
  branch: string | undefined;
  /** `host:port` with the host lower-cased and the port as written (empty when absent). */
  sentBy: string;
}

export function readTopVia(message: SipMessage): TopVia | undefined {
  const first = message.headers.getAll('via')[0];
  if (first === undefined) return undefined;
  let via: Via;
  try {
    via = parseVia(first);
  } catch {
    return undefined;
  }
  const branch = via.params.get('branch');
  return {
    via,
    branch: typeof branch === 'string' ? branch.toLowerCase() : undefined,
    sentBy: `${via.host.toLowerCase()}:${via.port ?? ''}`,
  };
}

export function readCSeq(message: SipMessage): CSeq | undefined {
  const value = message.headers.get('cseq');
  if (value === undefined) return undefined;
  try {
    return parseCSeq(value);
  } catch {
    return undefined;
  }
}

/** §8.1.1.7: a branch beginning with the magic cookie was built by an RFC 3261 element and is unique. */
export function isRfc3261Branch(branch: string | undefined): branch is string {
  return branch !== undefined && branch.startsWith(MAGIC_COOKIE.toLowerCase()) && branch.length > MAGIC_COOKIE.length;
}

/**
 * The `tag` parameter of a From or To value (§19.3), without a full name-addr parse: in `"x" <uri;p>;tag=a`
 * the header parameters follow the closing `>`; without angle brackets (§20.10) they follow the first `;`.
 * Lower-cased; undefined when there is no tag.
 */
export function tagOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let rest = value.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const close = rest.lastIndexOf('>');
  if (rest.includes('<')) {
    if (close === -1) return undefined;
    rest = rest.slice(close + 1);
  } else {
    const semi = rest.indexOf(';');
    if (semi === -1) return undefined;
    rest = rest.slice(semi);
  }
  const m = /;\s*tag\s*=\s*([^;\s,]+)/i.exec(rest);
  return m ? m[1]!.toLowerCase() : undefined;
}

/** §17.1.3: branch of the top Via plus the CSeq method (a CANCEL shares the INVITE's branch). */
export function clientKey(branch: string, method: string): string {
  return `${branch.toLowerCase()} ${method}`;
}

/** The client key of a response, or undefined when its top Via has no branch or its CSeq is unreadable. */
export function responseKey(message: SipMessage): { key: string; sentBy: string } | undefined {
  const top = readTopVia(message);
  const cseq = readCSeq(message);
  if (top?.branch === undefined || cseq === undefined) return undefined;
  return { key: clientKey(top.branch, cseq.method), sentBy: top.sentBy };
}

export interface RequestKeys {
  /** The key of the server transaction this request belongs to (for ACK: the INVITE's transaction). */
  key: string;
  /** §9.2: for a CANCEL, the key the INVITE it cancels would have. */
  cancelTarget: string | undefined;
  /**
   * RFC 2543 ACK matching (§17.2.3) needs the To tag of the response the server sent, which a key made from
   * the INVITE alone cannot hold: an INVITE server transaction is also filed under this key, and a matching
   * ACK must then carry the To tag of that transaction's final response.
   */
  rfc2543AckKey: string | undefined;
  rfc3261: boolean;
  cseq: CSeq;
  topVia: TopVia;
}

/**
 * §17.2.3. With the magic cookie: branch + sent-by + method, ACK mapped to INVITE. Without it, the RFC 2543
 * rules: "the Request-URI, To tag, From tag, Call-ID, CSeq, and top Via header field match those of the
 * INVITE request which created the transaction" (and for ACK: everything but the To tag, the CSeq number
 * without its method, and the To tag of the response instead).
 * Undefined when the request lacks a readable top Via, CSeq or Call-ID, or its CSeq method disagrees with
 * the method (§8.1.1.5: "The method MUST match that of the request").
 */
export function requestKeys(request: SipRequest): RequestKeys | undefined {
  const topVia = readTopVia(request);
  const cseq = readCSeq(request);
  const callId = request.headers.get('call-id');
  if (topVia === undefined || cseq === undefined || callId === undefined) return undefined;
  if (cseq.method !== request.method) return undefined;
  const method = request.method === 'ACK' ? 'INVITE' : request.method;
  if (isRfc3261Branch(topVia.branch)) {
    const base = `3261 ${topVia.branch} ${topVia.sentBy}`;
    return {
      key: `${base} ${method}`,
      cancelTarget: request.method === 'CANCEL' ? `${base} INVITE` : undefined,
      rfc2543AckKey: undefined,
      rfc3261: true,
      cseq,
      topVia,
    };
  }
  const uri = request.uri.trim();
  const toTag = tagOf(request.headers.get('to')) ?? '';
  const fromTag = tagOf(request.headers.get('from')) ?? '';
  const via = normalizedVia(topVia.via);
  const common = `${uri}\n${fromTag}\n${callId}\n${cseq.seq}\n${via}`;
  return {
    key: request.method === 'ACK' ? `2543ack\n${common}` : `2543\n${common}\n${toTag}\n${cseq.method}`,
    cancelTarget: request.method === 'CANCEL' ? `2543\n${common}\n${toTag}\nINVITE` : undefined,
    rfc2543AckKey: request.method === 'INVITE' ? `2543ack\n${common}` : undefined,
    rfc3261: false,
    cseq,
    topVia,
  };
}

/**
 * ACK for a 2xx to the response it acknowledges (§13.2.2.4, §13.3.1.4): same Call-ID, From tag, To tag and
 * CSeq number as the 2xx. Used to stop 2xx retransmissions; undefined without both tags.
 */
export function dialogAckKey(message: SipMessage): string | undefined {
  const callId = message.headers.get('call-id');
  const cseq = readCSeq(message);
  const fromTag = tagOf(message.headers.get('from'));
  const toTag = tagOf(message.headers.get('to'));
  if (callId === undefined || cseq === undefined || fromTag === undefined || toTag === undefined) return undefined;
  return `${callId}\n${cseq.seq}\n${fromTag}\n${toTag}`;
}

function normalizedVia(via: Via): string {
  const params = [...via.params].map(([k, v]) => (v === null ? k : `${k}=${v.toLowerCase()}`)).sort();
  return `${via.protocolName}/${via.protocolVersion}/${via.transport} ${via.host.toLowerCase()}:${via.port ?? ''};${params.join(';')}`;
}
