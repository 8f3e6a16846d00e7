/**
 * Just enough of the DTLS 1.2 record layer (RFC 6347 §4.1) to decide, before werift-dtls sees a datagram,
 * what it contains: record content types, epochs, and whether a handshake record is a ClientHello with or
 * without a cookie. werift-dtls mishandles some records (any unknown content type is treated as an alert and
 * closes the session; a ClientHello after the handshake silently restarts it), so the transport filters first.
 * No allocation: the scan writes into a reusable summary object.
 */

export const ContentType = { ChangeCipherSpec: 20, Alert: 21, Handshake: 22, ApplicationData: 23 } as const;
export const DTLS_RECORD_HEADER_LENGTH = 13;
const DTLS_HANDSHAKE_HEADER_LENGTH = 12;
const HANDSHAKE_CLIENT_HELLO = 1;

export class DtlsDatagramScan {
  records = 0;
  handshakeRecords = 0;
  /** Handshake records in epoch ≥ 1 (encrypted Finished). */
  encryptedHandshakeRecords = 0;
  alerts = 0;
  applicationData = 0;
  /** Records of a content type werift-dtls must not see (heartbeat 24, tls12_cid 25, anything else up to 63). */
  others = 0;
  clientHello = false;
  /** Cookie length of the ClientHello in the datagram, -1 when there is none or it is fragmented. */
  clientHelloCookieLength = -1;

  reset(): void {
    this.records = 0;
    this.handshakeRecords = 0;
    this.encryptedHandshakeRecords = 0;
    this.alerts = 0;
    this.applicationData = 0;
    this.others = 0;
    this.clientHello = false;
    this.clientHelloCookieLength = -1;
  }
}

/** Walks the records of one datagram. Returns false when a record header or length does not fit the datagram. */
export function scanDtlsDatagram(buf: Buffer, scan: DtlsDatagramScan): boolean {
  scan.reset();
  let pos = 0;
  while (pos < buf.length) {
    if (pos + DTLS_RECORD_HEADER_LENGTH > buf.length) return false;
    const type = buf[pos]!;
    const epoch = buf.readUInt16BE(pos + 3);
    const length = buf.readUInt16BE(pos + 11);
    const body = pos + DTLS_RECORD_HEADER_LENGTH;
    if (body + length > buf.length) return false;
    scan.records++;
    switch (type) {
      case ContentType.Handshake:
        scan.handshakeRecords++;
        if (epoch > 0) scan.encryptedHandshakeRecords++;
        else if (length >= DTLS_HANDSHAKE_HEADER_LENGTH && buf[body] === HANDSHAKE_CLIENT_HELLO) {
          scan.clientHello = true;
          scan.clientHelloCookieLength = clientHelloCookieLength(buf, body, length);
        }
        break;
      case ContentType.Alert:
        scan.alerts++;
        break;
      case ContentType.ApplicationData:
        scan.applicationData++;
        break;
      case ContentType.ChangeCipherSpec:
        break;
      default:
        scan.others++;
    }
    pos = body + length;
  }
  return scan.records > 0;
}

/** RFC 6347 §4.2.1 ClientHello: version(2) random(32) session_id<0..32> cookie<0..255> … */
function clientHelloCookieLength(buf: Buffer, handshakeStart: number, recordLength: number): number {
  const fragmentOffset = buf.readUIntBE(handshakeStart + 6, 3);
  if (fragmentOffset !== 0) return -1;
  const end = handshakeStart + recordLength;
  const sessionIdAt = handshakeStart + DTLS_HANDSHAKE_HEADER_LENGTH + 2 + 32;
  if (sessionIdAt >= end) return -1;
  const cookieAt = sessionIdAt + 1 + buf[sessionIdAt]!;
  return cookieAt < end ? buf[cookieAt]! : -1;
}

/**
 * The records of `buf` that `keep` accepts, called once per record in order with its content type, epoch and
 * (for a plaintext handshake record) the type of the message it starts; -1 otherwise. Returns `buf` itself
 * when every record is kept, a copy of the kept ones otherwise.
 */
export function selectRecords(buf: Buffer, keep: (contentType: number, epoch: number, handshakeType: number) => boolean): Buffer {
  const parts: Buffer[] = [];
  let all = true;
  let pos = 0;
  while (pos + DTLS_RECORD_HEADER_LENGTH <= buf.length) {
    const length = buf.readUInt16BE(pos + 11);
    const end = pos + DTLS_RECORD_HEADER_LENGTH + length;
    if (end > buf.length) break;
    const type = buf[pos]!;
    const epoch = buf.readUInt16BE(pos + 3);
    const handshakeType = type === ContentType.Handshake && epoch === 0 && length > 0 ? buf[pos + DTLS_RECORD_HEADER_LENGTH]! : -1;
    if (keep(type, epoch, handshakeType)) parts.push(buf.subarray(pos, end));
    else all = false;
    pos = end;
  }
  return all ? buf : Buffer.concat(parts);
}

/** Calls `visit` with each alert record (header included) of a well-formed datagram. */
export function forEachAlert(buf: Buffer, visit: (record: Buffer, epoch: number) => void): void {
  let pos = 0;
  while (pos + DTLS_RECORD_HEADER_LENGTH <= buf.length) {
    const end = pos + DTLS_RECORD_HEADER_LENGTH + buf.readUInt16BE(pos + 11);
    if (end > buf.length) break;
    if (buf[pos] === ContentType.Alert) visit(buf.subarray(pos, end), buf.readUInt16BE(pos + 3));
    pos = end;
  }
}
