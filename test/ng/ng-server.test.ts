import { describe, it, expect } from 'vitest';
import { answerSdp } from './helpers/recording-media.ts';
import { HOST, fixture, frame, reply, start, udpClient } from './helpers/ng-harness.ts';

describe('NgServer over UDP', () => {
  it('answers ping with pong, echoing the cookie', async () => {
    const { addresses } = await start();
    const client = await udpClient(addresses.udp[0]!.port);
    expect((await client.request(fixture('kamailio-ping.bencode'))).toString()).toBe('0_719885386_6 d6:result4:ponge');
  });

  it('runs a Kamailio offer and returns the media API SDP', async () => {
    const { media, addresses } = await start();
    const client = await udpClient(addresses.udp[0]!.port);
    const { cookie, dict } = reply(await client.request(fixture('kamailio-offer-to-webrtc.bencode')));
    expect(cookie).toBe('0_1804289383_0');
    expect(dict).toEqual({ result: 'ok', sdp: answerSdp('webrtc', 30002) });
    expect(media.calls).toEqual([
      ['offer', '3c2a5f1e8b7d4a09@203.0.113.20', 'as5f2c8e1a', expect.stringContaining('m=audio 17362 RTP/AVP'), { to: 'webrtc' }],
    ]);
  });

  it('answers a retransmitted cookie with the identical bytes and runs the command once', async () => {
    const { media, addresses } = await start();
    const client = await udpClient(addresses.udp[0]!.port);
    const message = fixture('kamailio-offer-to-webrtc.bencode');
    const first = await client.request(message);
    const second = await client.request(message);
    expect(second.equals(first)).toBe(true);
    expect(media.count('offer')).toBe(1);
  });

  it('a retransmission that arrives while the command runs is answered once, when it is done', async () => {
    const { media, addresses } = await start();
    let release!: () => void;
    media.gate = new Promise((resolve) => (release = resolve));
    const client = await udpClient(addresses.udp[0]!.port);
    const message = frame('slow-1', { command: 'offer', 'call-id': 'c1', 'from-tag': 'f1', sdp: 'v=0\r\nm=audio 4000 RTP/AVP 0\r\n' });
    client.send(message);
    client.send(message);
    client.send(message);
    await new Promise((r) => setTimeout(r, 100));
    expect(client.inbox).toEqual([]);
    expect(media.count('offer')).toBe(1);
    release();
    const answered = await client.next();
    expect(reply(answered).dict['result']).toBe('ok');
    await expect(client.next(300)).rejects.toThrow('no reply');
    expect(media.count('offer')).toBe(1);
    // After completion, a late retransmission still gets the same bytes.
    expect((await client.request(message)).equals(answered)).toBe(true);
  });

  it('answers malformed bencode with an error and keeps serving; drops a message with no cookie', async () => {
    const { addresses } = await start();
    const client = await udpClient(addresses.udp[0]!.port);
    const bad = reply(await client.request('bad-1 d7:command4:ping'));
    expect(bad).toEqual({ cookie: 'bad-1', dict: { result: 'error', 'error-reason': expect.stringMatching(/^Could not decode bencode dictionary: truncated input/) } });
    expect(reply(await client.request('bad-2 i1e')).dict['error-reason']).toBe('Invalid NG data format');
    client.send('d7:command4:pinge');
    client.send(Buffer.from([0xff, 0x00, 0x64]));
    expect(reply(await client.request('ok-1 d7:command4:pinge'))).toEqual({ cookie: 'ok-1', dict: { result: 'pong' } });
  });

  it('answers unknown commands, bad dictionaries and media API failures with result: error', async () => {
    const { addresses } = await start();
    const client = await udpClient(addresses.udp[0]!.port);
    expect(reply(await client.request(frame('u1', { command: 'frobnicate' }))).dict).toEqual({
      result: 'error',
      'error-reason': 'Unrecognized command',
    });
    expect(reply(await client.request(frame('u2', { command: 'offer', sdp: 'v=0' }))).dict).toEqual({
      result: 'error',
      'error-reason': 'No "call-id" in message',
    });
    const sdp = 'v=0\r\nm=audio 4000 RTP/AVP 0\r\n';
    expect(reply(await client.request(frame('u3', { command: 'offer', 'call-id': 'explode', 'from-tag': 'f', sdp }))).dict).toEqual({
      result: 'error',
      'error-reason': 'No free media ports',
    });
    expect(reply(await client.request(frame('u4', { command: 'start recording', 'call-id': 'x' }))).dict).toEqual({
      result: 'error',
      'error-reason': "Command 'start recording' not supported",
    });
  });

  it('lists unknown flags and keys in the warning of an ok reply', async () => {
    const { addresses } = await start();
    const client = await udpClient(addresses.udp[0]!.port);
    const sdp = 'v=0\r\nm=audio 4000 RTP/AVP 0\r\n';
    const { dict } = reply(
      await client.request(frame('w1', { command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp, flags: ['frobnicate', 'symmetric'], direction: ['priv', 'default'] })),
    );
    expect(dict).toEqual({
      result: 'ok',
      sdp: answerSdp('plain', 30002),
      warning: `unknown interface "priv", ignored; flag 'frobnicate' not supported, ignored`,
    });
  });

  it('query, list, delete, block media and play DTMF shaped like rtpengine replies', async () => {
    const { media, addresses } = await start();
    const client = await udpClient(addresses.udp[0]!.port);
    await client.request(fixture('kamailio-offer-to-webrtc.bencode'));
    await client.request(fixture('kamailio-answer-from-webrtc.bencode'));
    const callId = '3c2a5f1e8b7d4a09@203.0.113.20';

    const q = reply(await client.request(frame('q1', { command: 'query', 'call-id': callId }))).dict as Record<string, any>;
    expect(q['result']).toBe('ok');
    expect(q['created']).toBe(1_700_000_000);
    expect(q['totals']).toEqual({ RTP: { packets: 100, bytes: 17200, errors: 6 } });
    expect(Object.keys(q['tags'])).toEqual(['as5f2c8e1a', 'k9nq2wdq5u']);
    expect(q['tags']['as5f2c8e1a']).toMatchObject({
      tag: 'as5f2c8e1a',
      'in dialogue with': 'k9nq2wdq5u',
      medias: [
        {
          index: 1,
          type: 'audio',
          protocol: 'RTP/AVP',
          streams: [
            {
              'local port': 30002,
              endpoint: { family: 'IPv4', address: '127.0.0.1', port: 31002 },
              stats: { packets: 50, bytes: 8600, errors: 3 },
              stats_out: { packets: 49, bytes: 8428, errors: 0 },
            },
          ],
        },
      ],
    });
    expect(q['tags']['k9nq2wdq5u'].medias[0]).toMatchObject({ protocol: 'UDP/TLS/RTP/SAVPF', flags: expect.arrayContaining(['DTLS-SRTP', 'ICE']) });

    expect(reply(await client.request(frame('l1', { command: 'list' }))).dict).toEqual({ result: 'ok', calls: [callId] });

    expect(reply(await client.request(frame('b1', { command: 'block media', 'call-id': callId, 'from-tag': 'as5f2c8e1a', flags: ['directional'] }))).dict).toEqual({ result: 'ok' });
    expect(media.calls.at(-1)).toEqual(['blockMedia', callId, 'as5f2c8e1a', true]);

    // rtpengine selects the participant generating the digit; the media API is told who receives it.
    expect(reply(await client.request(frame('d1', { command: 'play DTMF', 'call-id': callId, 'from-tag': 'as5f2c8e1a', code: '5' }))).dict).toEqual({ result: 'ok' });
    expect(media.calls.at(-1)).toEqual(['playDtmf', callId, 'k9nq2wdq5u', '5', 250]);

    const del = reply(await client.request(fixture('kamailio-manage-delete.bencode'))).dict;
    expect(del).toMatchObject({ result: 'ok', created: 1_700_000_000, totals: { RTP: { packets: 100 } } });
    expect(media.calls.at(-1)).toEqual(['delete', callId]);
    expect(reply(await client.request(frame('q2', { command: 'query', 'call-id': callId }))).dict).toEqual({
      result: 'error',
      'error-reason': 'Unknown call-ID',
    });
    expect(reply(await client.request(frame('x2', { command: 'delete', 'call-id': callId }))).dict).toEqual({
      result: 'ok',
      warning: "Call-ID not found or tags didn't match",
    });
    expect(reply(await client.request(frame('x3', { command: 'delete', 'call-id': callId, flags: ['fatal'] }))).dict).toEqual({
      result: 'error',
      'error-reason': "Call-ID not found or tags didn't match",
    });
  });

  it('statistics: currentstatistics and per-proxy control counters', async () => {
    const { addresses } = await start();
    const client = await udpClient(addresses.udp[0]!.port);
    await client.request(frame('p1', { command: 'ping' }));
    await client.request(frame('p2', { command: 'frobnicate' }));
    const { dict } = reply(await client.request(frame('s1', { command: 'statistics' })));
    expect(dict).toMatchObject({
      result: 'ok',
      statistics: {
        currentstatistics: { sessionsown: 0, sessionstotal: 0, portsinuse: 0 },
        totalstatistics: { relayedpackets: 1234 },
        controlstatistics: { proxies: [{ proxy: HOST, pingcount: 1, errorcount: 1 }], totalpingcount: 1, totalerrorcount: 1 },
      },
    });
  });

  it('answers a JSON request in JSON', async () => {
    const { addresses } = await start();
    const client = await udpClient(addresses.udp[0]!.port);
    expect((await client.request('5323_1 {"command":"ping"}')).toString()).toBe('5323_1 {"result":"pong"}');
  });
});
