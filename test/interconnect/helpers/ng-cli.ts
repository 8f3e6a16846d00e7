/**
 * One ng command from the command line, for tests that must ask a media node from INSIDE a network namespace:
 *   node ng-cli.ts udp:127.0.0.1:2223 '{"command":"list"}'
 * Prints the reply dictionary as one JSON line (byte strings as latin1) and exits 0; on an error reply, a timeout
 * or bad arguments prints {"error": code, "message": …} and exits 1.
 */
import type { BencodeValue } from '../../../src/ng/bencode.ts';
import { NgClient, NgClientError, type NgRequest } from '../../../src/ng/ng-client.ts';

function toJson(value: BencodeValue): unknown {
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
}

const [address, json] = process.argv.slice(2);
let client: NgClient | undefined;
try {
  if (address === undefined || json === undefined) throw new Error('usage: ng-cli.ts <udp:IP:PORT> <json dictionary>');
  const request = JSON.parse(json) as NgRequest;
  client = await NgClient.open({ address, timeoutMs: 3000 });
  const reply = await client.request(request);
  process.stdout.write(`${JSON.stringify(toJson(reply))}\n`);
  await client.close();
  process.exit(0);
} catch (error) {
  const code = error instanceof NgClientError ? error.code : 'CLI';
  process.stdout.write(`${JSON.stringify({ error: code, message: (error as Error).message })}\n`);
  await client?.close();
  process.exit(1);
}
