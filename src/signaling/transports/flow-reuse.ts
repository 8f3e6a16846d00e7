/**
 * Which open connection-oriented flow may carry a new request to a remote endpoint (connection reuse, RFC 3261
 * §18.1.1 and the RFC 5923 caution that a TLS connection is only as good as the identity checked on it).
 *
 * Plain TCP and WS: any open flow to the same protocol and endpoint. TLS and WSS connections we open also record
 * the server name they were opened for (SNI, and the name the certificate was checked against) and whether the
 * certificate was verified; such a connection carries a request only when that is at least what the request's
 * target asks for:
 * - a target with `tlsVerify: false` takes any flow to the endpoint;
 * - a verifying target named by host name takes only a verified connection opened for that same name (a virtual
 *   host behind the same address has its own certificate);
 * - a verifying target named by IP address takes a verified connection to that endpoint whatever name it was
 *   checked for (the endpoint is the one asked for, and authenticated).
 * An unverified connection, opened for a `tlsVerify: false` trunk, never carries a request for a verifying target.
 * Flows the peer opened to us are reused as before (they are the peer's own flow, §18.2.2 / RFC 5626) — a known
 * limit: they carry no server identity check.
 */
import type { Endpoint, TransportProtocol } from '../transport.ts';
import type { StreamChannel } from './channels.ts';

export interface TlsIdentity {
  /** The host name the target was given by; undefined for an IP literal. Compared case-insensitively. */
  servername: string | undefined;
  verify: boolean;
}

interface Entry {
  readonly channel: StreamChannel;
  /** Undefined: an accepted flow, or a protocol without TLS. */
  readonly tls: TlsIdentity | undefined;
}

/** Whether a flow opened with `have` may carry a request whose target wants `want`. */
export function canCarry(have: TlsIdentity | undefined, want: TlsIdentity | undefined): boolean {
  if (want === undefined || have === undefined || !want.verify) return true;
  if (!have.verify) return false;
  return want.servername === undefined || have.servername?.toLowerCase() === want.servername.toLowerCase();
}

function endpointKey(protocol: TransportProtocol, remote: Endpoint): string {
  return `${protocol}|${remote.address}|${remote.port}`;
}

export class FlowIndex {
  readonly #byEndpoint = new Map<string, Entry[]>();
  readonly #keyOf = new Map<string, string>();

  add(protocol: TransportProtocol, remote: Endpoint, channel: StreamChannel, tls: TlsIdentity | undefined): void {
    const key = endpointKey(protocol, remote);
    let list = this.#byEndpoint.get(key);
    if (list === undefined) this.#byEndpoint.set(key, (list = []));
    list.push({ channel, tls });
    this.#keyOf.set(channel.flowId, key);
  }

  remove(flowId: string): void {
    const key = this.#keyOf.get(flowId);
    if (key === undefined) return;
    this.#keyOf.delete(flowId);
    const list = this.#byEndpoint.get(key);
    if (list === undefined) return;
    const index = list.findIndex((e) => e.channel.flowId === flowId);
    if (index !== -1) list.splice(index, 1);
    if (list.length === 0) this.#byEndpoint.delete(key);
  }

  /** The newest open flow to the endpoint that may carry a request wanting `want`. */
  find(protocol: TransportProtocol, remote: Endpoint, want: TlsIdentity | undefined): StreamChannel | undefined {
    const list = this.#byEndpoint.get(endpointKey(protocol, remote));
    if (list === undefined) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const entry = list[i]!;
      if (!entry.channel.closed && canCarry(entry.tls, want)) return entry.channel;
    }
    return undefined;
  }

  clear(): void {
    this.#byEndpoint.clear();
    this.#keyOf.clear();
  }
}
