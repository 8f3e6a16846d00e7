/**
 * Message framing for stream transports (TCP, TLS): RFC 3261 §18.3 — a message ends at CRLFCRLF plus
 * Content-Length body bytes, and "the Content-Length header field MUST be used with stream-oriented
 * transports". Between messages a peer may send RFC 5626 §3.5.1 keep-alives: a double CRLF "ping" that we answer
 * with a single CRLF "pong", or a single CRLF (a pong to a ping of ours) that we skip.
 *
 * A small state machine in the style of ws's Receiver: chunks are queued as they arrive, each byte is looked at a
 * bounded number of times (the header terminator search resumes where the previous chunk stopped), and a message
 * is copied once, when it is complete. Pure: no I/O; the transport wires the callbacks to a socket.
 */
import { GatewayError } from '../errors.ts';

export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024;

export type FramingErrorCode = 'SIP_FRAMING_TOO_LARGE' | 'SIP_FRAMING_NO_CONTENT_LENGTH' | 'SIP_FRAMING_BAD_CONTENT_LENGTH';

/**
 * A stream that cannot be framed. There is no way to find where the next message starts, so the transport closes
 * the connection and answers nothing (RFC 3261 §18.3: "the transport … MUST close the connection" is the only
 * sane reaction to an unframed stream).
 */
export class FramingError extends GatewayError {
  declare readonly code: FramingErrorCode;
  constructor(code: FramingErrorCode, message: string) {
    super(code, message, { status: code === 'SIP_FRAMING_TOO_LARGE' ? 513 : 400 });
  }
}

export interface FramerHandlers {
  /** A complete message: start line, headers, CRLFCRLF and exactly Content-Length body bytes. */
  message(data: Buffer): void;
  /** A CRLFCRLF keep-alive between messages: the transport answers with a single CRLF (RFC 5626 §3.5.1). */
  ping(): void;
  /** Fatal for the stream; after it the framer ignores further input. */
  error(error: FramingError): void;
}

export interface FramerOptions {
  /** Start line + headers + body, in bytes. Default 64 KiB. */
  maxMessageSize?: number;
}

const CR = 0x0d;
const LF = 0x0a;
const TERMINATOR = Buffer.from('\r\n\r\n', 'latin1');

/** States of the framer: between messages, reading the header block, reading the body. */
type State = 'idle' | 'headers' | 'body';

export class StreamFramer {
  readonly #handlers: FramerHandlers;
  readonly #maxMessageSize: number;

  #state: State = 'idle';
  /** Queued, not yet consumed chunks, and their total length. */
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** In 'idle': line feeds seen since the last message (two make a ping). */
  #idleLineFeeds = 0;
  /** In 'headers': bytes of the current queue already searched, and how much of CRLFCRLF ends them (0..3). */
  #scanned = 0;
  #matched = 0;
  /** In 'body': the length of the whole message (header block + body). */
  #messageLength = 0;
  #failed = false;

  constructor(handlers: FramerHandlers, options: FramerOptions = {}) {
    this.#handlers = handlers;
    this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  /** Bytes received but not yet part of an emitted message. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Stops the framer: queued bytes are dropped and further input ignored (the connection is going away). */
  destroy(): void {
    this.#failed = true;
    this.#chunks = [];
    this.#buffered = 0;
  }

  push(chunk: Buffer): void {
    if (this.#failed || chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    this.#run();
  }

  #run(): void {
    while (!this.#failed && this.#buffered > 0) {
      if (this.#state === 'idle') {
        if (!this.#skipKeepAlives()) return;
        this.#state = 'headers';
        this.#scanned = 0;
        this.#matched = 0;
      } else if (this.#state === 'headers') {
        const end = this.#findHeaderEnd();
        if (end === -1) {
          if (this.#buffered > this.#maxMessageSize) {
            this.#fail('SIP_FRAMING_TOO_LARGE', `header block exceeds ${this.#maxMessageSize} bytes`);
          }
          return;
        }
        const contentLength = this.#contentLength(this.#peek(end));
        if (contentLength === undefined) return; // failed
        this.#messageLength = end + contentLength;
        if (this.#messageLength > this.#maxMessageSize) {
          this.#fail('SIP_FRAMING_TOO_LARGE', `message of ${this.#messageLength} bytes exceeds ${this.#maxMessageSize}`);
          return;
        }
        this.#state = 'body';
      } else {
        if (this.#buffered < this.#messageLength) return;
        const message = this.#consume(this.#messageLength);
        this.#state = 'idle';
        this.#idleLineFeeds = 0;
        this.#handlers.message(message);
      }
    }
  }

  /**
   * Consumes CR and LF bytes before a message. Returns true when a message's first byte is at the head of the
   * queue, false when the queue ran out. Two line feeds in a row are a ping (CRLFCRLF); a lone CRLF is a pong.
   */
  #skipKeepAlives(): boolean {
    next: while (this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i]!;
        if (byte === LF) {
          if (++this.#idleLineFeeds === 2) {
            this.#idleLineFeeds = 0;
            this.#dropHead(i + 1);
            this.#handlers.ping();
            if (this.#failed) return false;
            continue next; // the head chunk was replaced by its remainder
          }
        } else if (byte !== CR) {
          this.#dropHead(i);
          return true;
        }
      }
      this.#dropHead(chunk.length);
    }
    return false;
  }

  /** Drops `n` bytes from the head chunk. */
  #dropHead(n: number): void {
    const head = this.#chunks[0]!;
    this.#buffered -= n;
    if (n === head.length) this.#chunks.shift();
    else if (n > 0) this.#chunks[0] = head.subarray(n);
  }

  /**
   * Searches for CRLFCRLF from where the last search stopped. Returns the offset just past it (the length of the
   * header block) or -1. Across a chunk boundary the partial match is carried in #matched; inside a chunk the
   * native indexOf does the work.
   */
  #findHeaderEnd(): number {
    let base = 0;
    for (const chunk of this.#chunks) {
      const chunkEnd = base + chunk.length;
      if (chunkEnd <= this.#scanned) {
        base = chunkEnd;
        continue;
      }
      let i = this.#scanned - base;
      // Finish a terminator begun in the previous chunk.
      while (this.#matched > 0 && i < chunk.length) {
        const byte = chunk[i]!;
        const expected = TERMINATOR[this.#matched]!;
        if (byte === expected) {
          i++;
          if (++this.#matched === 4) return base + i;
        } else {
          this.#matched = byte === CR ? 1 : 0;
          i++;
        }
      }
      const start = i;
      const found = chunk.indexOf(TERMINATOR, start);
      if (found !== -1) return base + found + 4;
      // No whole terminator: remember how much of one the chunk ends with (only its last 3 bytes matter).
      const tailFrom = Math.max(start, chunk.length - 3);
      if (tailFrom > start) this.#matched = 0;
      for (let j = tailFrom; j < chunk.length; j++) {
        const byte = chunk[j]!;
        if (byte === TERMINATOR[this.#matched]) this.#matched++;
        else this.#matched = byte === CR ? 1 : 0;
      }
      this.#scanned = chunkEnd;
      base = chunkEnd;
    }
    return -1;
  }

  /**
   * Content-Length (or compact `l`) from the header block, case-insensitive, folding allowed. Every occurrence
   * must agree: two different lengths make the stream unframeable (a request-smuggling vector).
   */
  #contentLength(headerBlock: Buffer): number | undefined {
    const text = headerBlock.toString('latin1').replace(/\r\n[ \t]+/g, ' ');
    let value: number | undefined;
    // A line scan, not a regex: a lazy `.*?` with a trailing-space class is quadratic on a line of spaces.
    for (const line of text.split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trimEnd().toLowerCase();
      if (name !== 'content-length' && name !== 'l') continue;
      const raw = line.slice(colon + 1).trim();
      if (!/^\d{1,10}$/.test(raw)) {
        this.#fail('SIP_FRAMING_BAD_CONTENT_LENGTH', `invalid Content-Length "${raw.slice(0, 32)}"`);
        return undefined;
      }
      const n = Number(raw);
      if (value !== undefined && value !== n) {
        this.#fail('SIP_FRAMING_BAD_CONTENT_LENGTH', 'conflicting Content-Length headers');
        return undefined;
      }
      value = n;
    }
    if (value === undefined) {
      this.#fail('SIP_FRAMING_NO_CONTENT_LENGTH', 'Content-Length is required on a stream transport (RFC 3261 §18.3)');
    }
    return value;
  }

  /** The first `n` queued bytes as one Buffer, without consuming them. */
  #peek(n: number): Buffer {
    const head = this.#chunks[0]!;
    if (head.length >= n) return head.subarray(0, n);
    return Buffer.concat(this.#chunks, this.#buffered).subarray(0, n);
  }

  /** Removes and returns the first `n` queued bytes (one copy at most). */
  #consume(n: number): Buffer {
    this.#buffered -= n;
    const head = this.#chunks[0]!;
    if (head.length === n) {
      this.#chunks.shift();
      return head;
    }
    if (head.length > n) {
      this.#chunks[0] = head.subarray(n);
      return head.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    while (offset < n) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(chunk.length, n - offset);
      chunk.copy(out, offset, 0, take);
      offset += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    return out;
  }

  #fail(code: FramingErrorCode, message: string): void {
    this.#failed = true;
    this.#chunks = [];
    this.#buffered = 0;
    this.#handlers.error(new FramingError(code, message));
  }
}
