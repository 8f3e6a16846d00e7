/**
 * The gateway ↔ worker channel's messages: a worker is another process, so what comes over the channel is checked
 * field by field; ng bytes survive the JSON channel unchanged.
 */
import { describe, expect, it } from 'vitest';
import { ngFromWire, ngToWire, parseSupervisorMessage, parseWorkerMessage } from '../../src/cluster/worker-protocol.ts';

describe('worker messages', () => {
  it('reads the worker\'s messages: ready, failed, ng replies and media events', () => {
    expect(parseWorkerMessage({ type: 'ready' })).toEqual({ type: 'ready' });
    expect(parseWorkerMessage({ type: 'failed', message: 'EADDRINUSE' })).toEqual({ type: 'failed', message: 'EADDRINUSE' });
    expect(parseWorkerMessage({ type: 'ng', data: 'k d6:result4:ponge' })).toEqual({ type: 'ng', data: 'k d6:result4:ponge' });
    expect(parseWorkerMessage({ type: 'media-timeout', callId: 'c', tag: 't', extra: 1 })).toEqual({ type: 'media-timeout', callId: 'c', tag: 't' });
    expect(parseWorkerMessage({ type: 'media-dtmf', callId: 'c', tag: 't', digit: '5' })).toEqual({ type: 'media-dtmf', callId: 'c', tag: 't', digit: '5' });
    expect(parseWorkerMessage({ type: 'media-failed', callId: 'c', tag: 't', reason: 'ICE consent lost' })).toEqual({
      type: 'media-failed',
      callId: 'c',
      tag: 't',
      reason: 'ICE consent lost',
    });
  });

  it.each([
    null,
    'ready',
    42,
    {},
    { type: 'failed' },
    { type: 'ng', data: 7 },
    { type: 'media-timeout', callId: 'c' },
    { type: 'media-dtmf', callId: 'c', tag: 't' },
    { type: 'media-failed', callId: 'c', tag: 't', reason: null },
    { type: 'offer', callId: 'c' },
  ])('refuses %j', (value) => {
    expect(parseWorkerMessage(value)).toBeUndefined();
  });

  it('reads only ng commands from the gateway', () => {
    expect(parseSupervisorMessage({ type: 'ng', data: 'x' })).toEqual({ type: 'ng', data: 'x' });
    expect(parseSupervisorMessage({ type: 'ng' })).toBeUndefined();
    expect(parseSupervisorMessage({ type: 'ready' })).toBeUndefined();
    expect(parseSupervisorMessage(undefined)).toBeUndefined();
  });

  it('carries every byte value through the JSON channel', () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const wire = JSON.parse(JSON.stringify({ type: 'ng', data: ngToWire(bytes) })) as { data: string };
    expect(ngFromWire(wire.data).equals(bytes)).toBe(true);
  });
});
