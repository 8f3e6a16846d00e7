/**
 * Source addresses as the defences see them: one spelling per address, the key a source is counted under, and
 * sets of addresses/CIDR blocks for the "never ban" list.
 *
 * IPv6 sources are counted per /64: one subscriber (a home, a cloud VM) is routinely given a whole /64, so an
 * attacker rotating through it would otherwise get 2^64 fresh buckets and never be banned (RFC 7707 §2.3: the
 * interface identifier is the host's to choose).
 */
import { BlockList, isIP } from 'node:net';

/** `::ffff:192.0.2.1` → `192.0.2.1`; IPv6 lower case without a zone; anything else unchanged. */
export function canonicalAddress(address: string): string {
  if (!address.includes(':')) return address;
  const zone = address.indexOf('%');
  const bare = (zone === -1 ? address : address.slice(0, zone)).toLowerCase();
  if (bare.startsWith('::ffff:') && bare.includes('.') && isIP(bare.slice(7)) === 4) return bare.slice(7);
  return bare;
}

/** 127.0.0.0/8 (RFC 1122 §3.2.1.3) and ::1 (RFC 4291 §2.5.3), in any spelling. */
export function isLoopback(address: string): boolean {
  const a = canonicalAddress(address);
  if (a.startsWith('127.')) return isIP(a) === 4;
  if (!a.includes(':')) return false;
  const words = ipv6Words(a);
  return words !== undefined && words.slice(0, 7).every((w) => w === 0) && words[7] === 1;
}

/** The eight 16-bit words of an IPv6 literal, or undefined when it is not one. */
export function ipv6Words(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address;
  // An embedded IPv4 (RFC 4291 §2.2 form 3) is rewritten as the last two words.
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = last.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const gap = text.indexOf('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  let words: number[];
  if (gap === -1) words = parse(text);
  else {
    const head = parse(text.slice(0, gap));
    const rest = parse(text.slice(gap + 2));
    words = [...head, ...new Array<number>(Math.max(0, 8 - head.length - rest.length)).fill(0), ...rest];
  }
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : undefined;
}

/** The key a source is counted and banned under: the IPv4 address itself, or the IPv6 /64 (`2001:db8:0:1::/64`). */
export function sourceKey(address: string): string {
  const a = canonicalAddress(address);
  if (!a.includes(':')) return a;
  const words = ipv6Words(a);
  if (words === undefined) return a;
  return `${words.slice(0, 4).map((w) => w.toString(16)).join(':')}::/64`;
}

/** Addresses and CIDR blocks (`203.0.113.7`, `198.51.100.0/24`, `2001:db8::/32`). */
export class AddressSet {
  readonly #list = new BlockList();
  #empty = true;

  constructor(entries: readonly string[] = []) {
    for (const entry of entries) this.add(entry);
  }

  /** Adds an address or block; throws RangeError for anything else (config validation catches it earlier). */
  add(entry: string): void {
    const [addr, bits, extra] = entry.split('/');
    const family = addr === undefined ? 0 : isIP(addr);
    if (family === 0 || extra !== undefined) throw new RangeError(`not an IP address or CIDR block: ${entry}`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) this.#list.addAddress(addr!, type);
    else {
      const prefix = Number(bits);
      if (!/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) throw new RangeError(`bad prefix length: ${entry}`);
      this.#list.addSubnet(addr!, prefix, type);
    }
    this.#empty = false;
  }

  has(address: string): boolean {
    if (this.#empty) return false;
    const a = canonicalAddress(address);
    const family = isIP(a);
    if (family === 0) return false;
    return this.#list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  }
}
