/**
 * NgClient over a transport that is not UDP (what a supervised media worker's IPC channel is), against the ng
 * server's receive() for channels it does not own: the same cookie-framed messages, no retransmission on a
 * reliable channel, and abort() for a node known dead.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NgClient, NgClientError, type NgTransport } from '../../src/ng/ng-client.ts';
import { frame, start } from './helpers/ng-harness.ts';
import { answerSdp } from './helpers/recording-media.ts';

afterEach(() => {
  vi.useRealTimers();
});

/** An in-memory channel: what is sent is recorded and, when `deliver` is set, handed to it (else it is lost). */
function channel(deliver?: (message: Buffer, reply: (message: Buffer) => void) => void) {
  const sent: Buffer[] = [];
  let handler: ((message: Buffer) => void) | undefined;
  let closed = false;
  const transport: NgTransport = {
    label: 'test:channel',
    reliable: true,
    send: (message) => {
      sent.push(message);
      deliver?.(message, (reply) => handler?.(reply));
    },
    receive: (h) => {
      handler = h;
    },
    close: async () => {
      closed = true;
    },
  };
  return { transport, sent, isClosed: () => closed };
}

describe('NgClient over a channel (NgTransport) and NgServer.receive()', () => {
  it('runs ng commands through the server with no socket in between', async () => {
    const { server, media } = await start({});
    const { transport } = channel((message, reply) => void server.receive(message, 'ipc', reply));
    const client = NgClient.over(transport, { timeoutMs: 1000 });
    expect(client.label).toBe('test:channel');
    expect(client.address).toBeUndefined();
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
    const offer = await client.request({ command: 'offer', 'call-id': 'c1', 'from-tag': 'f', sdp: answerSdp('plain', 5000) });
    expect(offer['result']).toBe('ok');
    expect(media.calls.map((c) => c[0])).toContain('offer');
    await client.close();
  });

  it('answers a retransmitted cookie from the cache (the command runs once)', async () => {
    const { server, media } = await start({});
    const replies: Buffer[] = [];
    const message = frame('abc_1', { command: 'offer', 'call-id': 'c1', 'from-tag': 'f', sdp: answerSdp('plain', 5000) });
    await server.receive(message, 'ipc', (r) => replies.push(r));
    await server.receive(message, 'ipc', (r) => replies.push(r));
    expect(replies).toHaveLength(2);
    expect(replies[1]!.equals(replies[0]!)).toBe(true);
    expect(media.calls.filter((c) => c[0] === 'offer')).toHaveLength(1);
  });

  it('does not retransmit on a reliable channel: one message, then NG_TIMEOUT at the deadline', async () => {
    vi.useFakeTimers();
    const { transport, sent } = channel();
    const client = NgClient.over(transport, { timeoutMs: 3000, retransmitMs: 100 });
    const outcome = client.ping().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(2999);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toMatchObject({ code: 'NG_TIMEOUT' });
    expect(sent).toHaveLength(1);
  });

  it('abort() rejects every waiting request at once with NG_ABORTED, sends nothing more and closes the channel', async () => {
    const { transport, sent, isClosed } = channel();
    const client = NgClient.over(transport, { timeoutMs: 3000, maxInFlight: 1 });
    const started = performance.now();
    // One on the wire, one queued behind the window: both are aborted.
    const a = client.request({ command: 'offer', 'call-id': 'c1' }).catch((e: unknown) => e);
    const b = client.request({ command: 'delete', 'call-id': 'c1' }).catch((e: unknown) => e);
    client.abort('the worker exited');
    const [ea, eb] = await Promise.all([a, b]);
    expect(performance.now() - started).toBeLessThan(100);
    expect(ea).toBeInstanceOf(NgClientError);
    expect(ea).toMatchObject({ code: 'NG_ABORTED', message: 'offer to test:channel aborted: the worker exited' });
    expect(eb).toMatchObject({ code: 'NG_ABORTED' });
    expect(sent).toHaveLength(1);
    expect(isClosed()).toBe(true);
    expect(client.closed).toBe(true);
    await expect(client.request({ command: 'ping' })).rejects.toMatchObject({ code: 'NG_CLOSED' });
    expect(sent).toHaveLength(1);
    expect(() => client.local).toThrow(NgClientError);
  });
});
