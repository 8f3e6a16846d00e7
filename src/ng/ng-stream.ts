/**
 * Message boundaries of ng over TCP. rtpengine's control_tcp (docs/tcpng_control_protocol.md) sends the same
 * `cookie SP bencoded-dictionary` as over UDP, back to back with no length prefix: a message ends where its
 * dictionary ends, which only a bencode parser can tell (control_ng.c, chunk_message(): bencode_valid()).
 * This framer is a state machine over the bytes as they arrive — a message split across reads, or several in
 * one read, both work, and each byte is looked at once. Whitespace between messages is skipped.
 *
 * Once a message is malformed the stream cannot be re-synchronised; `push` throws and the connection must go.
 * `cookie` then holds the cookie of the broken message, if it was read, for an error reply.
 */
import { BencodeScanner } from './bencode.ts';
import type { BencodeLimits } from './bencode.ts';
import { NgError } from './errors.ts';
import { MAX_COOKIE_LENGTH } from './ng-message.ts';

export class NgStreamFramer {
  readonly #scanner: BencodeScanner;
  #inBody = false;
  #cookieLength = 0;
  #parts: Buffer[] = [];
  #cookie: Buffer | undefined;

  constructor(limits: BencodeLimits = {}) {
    this.#scanner = new BencodeScanner(limits);
  }

  /** The cookie of the message being read, once its space has been seen. */
  get cookie(): Buffer | undefined {
    return this.#cookie;
  }

  /** Bytes held for an incomplete message. */
  get buffered(): number {
    return this.#parts.reduce((n, p) => n + p.length, 0);
  }

  /** Complete messages (`cookie SP dict`) in the order they arrived. */
  push(chunk: Buffer): Buffer[] {
    const messages: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (!this.#inBody) {
        if (this.#cookieLength === 0) {
          while (i < chunk.length && isSpace(chunk[i]!)) i++;
          if (i === chunk.length) break;
        }
        const space = chunk.indexOf(0x20, i);
        const end = space === -1 ? chunk.length : space;
        this.#cookieLength += end - i;
        if (this.#cookieLength > MAX_COOKIE_LENGTH) {
          throw new NgError('NG_FRAMING', `Cookie longer than ${MAX_COOKIE_LENGTH} bytes`);
        }
        this.#parts.push(chunk.subarray(i, space === -1 ? end : end + 1));
        if (space === -1) break;
        this.#cookie = Buffer.concat(this.#parts).subarray(0, this.#cookieLength);
        this.#inBody = true;
        i = space + 1;
        continue;
      }
      if (this.#scanner.consumed === 0 && chunk[i] !== 0x64 /* d */) {
        throw new NgError('NG_FRAMING', 'ng over TCP carries bencode dictionaries only');
      }
      const used = this.#scanner.push(chunk, i);
      if (used === -1) {
        this.#parts.push(chunk.subarray(i));
        break;
      }
      this.#parts.push(chunk.subarray(i, i + used));
      messages.push(Buffer.concat(this.#parts));
      i += used;
      this.#reset();
    }
    return messages;
  }

  #reset(): void {
    this.#scanner.reset();
    this.#inBody = false;
    this.#cookieLength = 0;
    this.#parts = [];
    this.#cookie = undefined;
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
