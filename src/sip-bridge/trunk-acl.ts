/**
 * Which trunk a request comes from, by source address (LiveKit-style allow-lists; Kamailio's permissions module).
 * A trunk's `allowedSources` (IPs/CIDRs) default to the addresses its host resolves to, resolved at start-up.
 * Requests from anywhere else are not a trunk: they must authenticate as a user or are refused.
 */
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import type { TrunkConfig } from '../config/schema.ts';

export class TrunkAcl {
  readonly #entries: Array<{ trunk: TrunkConfig; list: BlockList }> = [];

  /** Builds the ACL; hosts without explicit sources are resolved (a name that doesn't resolve allows nothing). */
  static async create(trunks: readonly TrunkConfig[]): Promise<TrunkAcl> {
    const acl = new TrunkAcl();
    for (const trunk of trunks) {
      const list = new BlockList();
      const sources = trunk.allowedSources.length > 0 ? trunk.allowedSources : await resolveAll(trunk.host);
      for (const source of sources) addSource(list, source);
      acl.#entries.push({ trunk, list });
    }
    return acl;
  }

  /** The trunk a source address belongs to, if any (first match in config order). */
  trunkFor(address: string): TrunkConfig | undefined {
    const bare = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const family = isIP(bare);
    if (family === 0) return undefined;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    for (const { trunk, list } of this.#entries) if (list.check(bare, type)) return trunk;
    return undefined;
  }
}

function addSource(list: BlockList, source: string): void {
  const [addr, bits] = source.split('/');
  const family = isIP(addr!);
  if (family === 0) return;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (bits === undefined) list.addAddress(addr!, type);
  else list.addSubnet(addr!, Number(bits), type);
}

async function resolveAll(host: string): Promise<string[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare) !== 0) return [bare];
  try {
    return (await lookup(bare, { all: true })).map((a) => a.address);
  } catch {
    return [];
  }
}
