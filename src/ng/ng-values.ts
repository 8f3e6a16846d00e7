/**
 * Typed reads from an ng dictionary. rtpengine accepts each key in several spellings ("transport-protocol",
 * "transport protocol", "call-id", "call ID", "ICE"/"ice", "delete_delay"), so keys are compared after
 * normalisation (lower case, '-' and '_' as spaces). The reader remembers which keys were read, so whatever
 * is left at the end can be reported in the reply's `warning`.
 */
import type { BencodeDict, BencodeValue } from './bencode.ts';
import { NgError } from './errors.ts';

/** "Transport-Protocol" → "transport protocol". Same length as the input, so offsets carry over. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, ' ');
}

interface Entry {
  key: string;
  value: BencodeValue;
}

export class NgDictReader {
  readonly #entries = new Map<string, Entry>();
  readonly #used = new Set<string>();

  constructor(dict: BencodeDict) {
    for (const [key, value] of Object.entries(dict)) {
      const name = normalizeName(key);
      // Two spellings of one key: the first wins, as with a duplicated key (see bencode.ts).
      if (!this.#entries.has(name)) this.#entries.set(name, { key, value });
    }
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** The key as the sender spelled it (for messages). */
  spelling(name: string): string {
    return this.#entries.get(name)?.key ?? name.replace(/ /g, '-');
  }

  raw(name: string): BencodeValue | undefined {
    const entry = this.#entries.get(name);
    if (entry === undefined) return undefined;
    this.#used.add(name);
    return entry.value;
  }

  /** Marks a key as handled without reading it (accepted and deliberately ignored). */
  accept(name: string): void {
    if (this.#entries.has(name)) this.#used.add(name);
  }

  string(name: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (typeof value === 'string') return value;
    if (typeof value === 'number') return String(value);
    throw this.#invalid(name, Buffer.isBuffer(value) ? 'must be UTF-8 text' : 'must be a string');
  }

  requiredString(name: string): string {
    const value = this.string(name);
    if (value === undefined || value === '') {
      throw new NgError('NG_INVALID', `No ${JSON.stringify(this.spelling(name))} in message`);
    }
    return value;
  }

  /** An integer, or a string of digits: Kamailio sends generic `key=value` flags as strings. */
  integer(name: string): number | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (typeof value === 'number') return value;
    if (typeof value === 'string' && /^-?\d{1,15}$/.test(value.trim())) return Number(value.trim());
    throw this.#invalid(name, 'must be an integer');
  }

  /** A list of strings; a single string counts as a list of one (rtpengine allows that for ICE, SDES, ...). */
  stringList(name: string): string[] | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (typeof value === 'string') return [value];
    if (!Array.isArray(value)) throw this.#invalid(name, 'must be a list of strings');
    return value.map((item) => {
      if (typeof item === 'string') return item;
      if (typeof item === 'number') return String(item);
      throw this.#invalid(name, 'must be a list of strings');
    });
  }

  dict(name: string): NgDictReader | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'object' || Array.isArray(value) || Buffer.isBuffer(value)) {
      throw this.#invalid(name, 'must be a dictionary');
    }
    return new NgDictReader(value);
  }

  /** Keys never read nor accepted, as the sender spelled them. */
  unused(): string[] {
    const out: string[] = [];
    for (const [name, entry] of this.#entries) if (!this.#used.has(name)) out.push(entry.key);
    return out;
  }

  /** Normalised names of the keys never read nor accepted. */
  unusedNames(): string[] {
    const out: string[] = [];
    for (const name of this.#entries.keys()) if (!this.#used.has(name)) out.push(name);
    return out;
  }

  #invalid(name: string, what: string): NgError {
    return new NgError('NG_INVALID', `${JSON.stringify(this.spelling(name))} ${what}`);
  }
}
