/**
 * Echo calls through a gateway whose media is a MediaDispatcher (media workers or remote ng nodes): which node
 * each call landed on, and whether its audio still comes back — what the multi-node tests assert on.
 */
import { expect } from 'vitest';
import type { Gateway } from '../../src/gateway.ts';
import { MediaDispatcher } from '../../src/rtp-bridge/media-dispatcher.ts';
import { waitFor } from '../gateway/harness.ts';
import type { Sending } from './media-endpoint.ts';
import type { OutgoingCall } from './outgoing-call.ts';
import type { TestPhone } from './test-phone.ts';

export interface LiveCall {
  call: OutgoingCall;
  sending: Sending;
  /** The gateway's id for the call (the media Call-ID), and the node it was placed on. */
  mediaId: string;
  node: string;
}

export function dispatcherOf(gw: Gateway): MediaDispatcher {
  expect(gw.media).toBeInstanceOf(MediaDispatcher);
  return gw.media as MediaDispatcher;
}

/** Calls echo and waits for its own markers to come back; finds the media call the gateway made for it. */
export async function echoCall(gw: Gateway, phone: TestPhone): Promise<LiveCall> {
  const before = new Set(await gw.media.list());
  const call = await phone.call('echo');
  const sending = call.startSending({ pt: 0, everyMs: 20 });
  await call.waitForAudio((a) => a.markers.some((m) => m.stream === sending.stream));
  const mediaId = (await gw.media.list()).find((id) => !before.has(id));
  expect(mediaId).toBeDefined();
  return { call, sending, mediaId: mediaId!, node: dispatcherOf(gw).nodeOf(mediaId!)! };
}

/** Markers of this stream keep coming back: frames at least `n` past the newest one seen now. */
export async function audioFlows(live: LiveCall, n = 10): Promise<void> {
  // The meter keeps only the latest markers: compare frame numbers, not how many are kept.
  const newest = () => Math.max(-1, ...live.call.audio.markers.filter((m) => m.stream === live.sending.stream).map((m) => m.frame));
  const start = newest();
  await waitFor(() => newest() >= start + n, `echo markers on a call on ${live.node}`, 5000);
}
