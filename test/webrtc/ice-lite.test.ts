import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Message, classes, methods, parseMessage } from 'werift-ice';
import { IceLiteAgent, type TransportAddress } from '../../src/webrtc/ice-lite.ts';

const BROWSER = { address: '127.0.0.1', port: 50000 };
const ROAMED = { address: '127.0.0.1', port: 50002 };
const REMOTE = { ufrag: 'brow', pwd: 'browserpasswordbrowser' };

interface Sent {
  packet: Buffer;
  port: number;
  address: string;
}

function harness(consentTimeoutMs = 30_000) {
  const sent: Sent[] = [];
  const selected: TransportAddress[] = [];
  let consentLost = 0;
  const agent = new IceLiteAgent({
    send: (packet, port, address) => sent.push({ packet, port, address }),
    onSelected: (remote) => selected.push(remote),
    onConsentLost: () => consentLost++,
    consentTimeoutMs,
    now: () => Date.now(),
  });
  return { agent, sent, selected, consentLost: () => consentLost };
}

interface CheckOptions {
  username?: string;
  pwd?: string;
  useCandidate?: boolean;
  controlled?: boolean;
  transactionId?: Buffer;
  noIntegrity?: boolean;
}

/** A connectivity check as a full, controlling browser sends it (RFC 8445 §7.2.2), encoded by werift-ice. */
function check(agent: IceLiteAgent, options: CheckOptions = {}): Buffer {
  const local = agent.localCredentials;
  const message = new Message(methods.BINDING, classes.REQUEST, options.transactionId);
  message.setAttribute('USERNAME', options.username ?? `${local.ufrag}:${REMOTE.ufrag}`);
  message.setAttribute('PRIORITY', 1853824767);
  if (options.controlled) message.setAttribute('ICE-CONTROLLED', 1n);
  else message.setAttribute('ICE-CONTROLLING', 0x1122334455667788n);
  if (options.useCandidate) message.setAttribute('USE-CANDIDATE', null);
  if (!options.noIntegrity) message.addMessageIntegrity(Buffer.from(options.pwd ?? local.pwd));
  return message.addFingerprint().bytes;
}

function deliver(agent: IceLiteAgent, packet: Buffer, from = BROWSER): void {
  agent.handleStun(packet, from.address, from.port);
}

describe('IceLiteAgent (RFC 8445 lite, RFC 7675 consent)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('generates a ufrag of at least 4 and a password of at least 22 ice-chars (RFC 8839 §5.4)', () => {
    const { agent } = harness();
    const { ufrag, pwd } = agent.localCredentials;
    expect(ufrag).toMatch(/^[A-Za-z0-9+/]{4,}$/);
    expect(pwd).toMatch(/^[A-Za-z0-9+/]{22,}$/);
    expect(harness().agent.localCredentials.ufrag).not.toBe(ufrag);
  });

  it('answers a valid check with XOR-MAPPED-ADDRESS of its source, integrity-protected with the local password', () => {
    const { agent, sent, selected } = harness();
    agent.setRemoteCredentials(REMOTE);
    const request = check(agent);
    deliver(agent, request);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ port: BROWSER.port, address: BROWSER.address });
    const response = parseMessage(sent[0]!.packet, Buffer.from(agent.localCredentials.pwd));
    expect(response).toBeDefined();
    expect(response!.messageClass).toBe(classes.RESPONSE);
    expect(response!.transactionId).toEqual(request.subarray(8, 20));
    expect(response!.getAttributeValue('XOR-MAPPED-ADDRESS')).toEqual([BROWSER.address, BROWSER.port]);
    expect(response!.getAttributeValue('USERNAME')).toBeUndefined();
    // Validated, but a lite agent selects only what the controlling side nominates (RFC 8445 §7.3.2).
    expect(selected).toEqual([]);
    expect(agent.isValidated(BROWSER.address, BROWSER.port)).toBe(true);
    expect(agent.lastValidated).toEqual(BROWSER);
    expect(agent.state).toBe('new');
  });

  it('selects the source of a nominating check (USE-CANDIDATE) and reports it once', () => {
    const { agent, selected } = harness();
    agent.setRemoteCredentials(REMOTE);
    deliver(agent, check(agent, { useCandidate: true }));
    deliver(agent, check(agent, { useCandidate: true }));
    expect(selected).toEqual([BROWSER]);
    expect(agent.selected).toEqual(BROWSER);
    expect(agent.state).toBe('connected');
  });

  it('answers checks that arrive before the remote description (RFC 8445 §7.3) and accepts their nomination', () => {
    const { agent, sent, selected } = harness();
    deliver(agent, check(agent, { useCandidate: true }));
    expect(parseMessage(sent[0]!.packet, Buffer.from(agent.localCredentials.pwd))!.messageClass).toBe(classes.RESPONSE);
    expect(selected).toEqual([BROWSER]);
  });

  it('moves the selected pair when a later nomination comes from another address (network change)', () => {
    const { agent, selected } = harness();
    agent.setRemoteCredentials(REMOTE);
    deliver(agent, check(agent, { useCandidate: true }));
    deliver(agent, check(agent, { useCandidate: true }), ROAMED);
    expect(selected).toEqual([BROWSER, ROAMED]);
    expect(agent.selected).toEqual(ROAMED);
  });

  it('rejects a wrong password with 401 and no MESSAGE-INTEGRITY (RFC 5389 §10.1.2), and selects nothing', () => {
    const { agent, sent, selected } = harness();
    agent.setRemoteCredentials(REMOTE);
    deliver(agent, check(agent, { pwd: 'thisIsNotThePasswordAtAll', useCandidate: true }));
    expect(selected).toEqual([]);
    const response = parseMessage(sent[0]!.packet)!;
    expect(response.messageClass).toBe(classes.ERROR);
    expect(response.getAttributeValue('ERROR-CODE')).toEqual([401, 'Unauthorized']);
    expect(response.getAttributeValue('MESSAGE-INTEGRITY')).toBeUndefined();
    expect(agent.isValidated(BROWSER.address, BROWSER.port)).toBe(false);
  });

  it('rejects an unknown ufrag with 401 and a request without integrity with 400', () => {
    const { agent, sent } = harness();
    deliver(agent, check(agent, { username: 'someoneelse:brow' }));
    deliver(agent, check(agent, { noIntegrity: true }));
    expect(sent.map((s) => parseMessage(s.packet)!.getAttributeValue('ERROR-CODE')[0])).toEqual([401, 400]);
    expect(agent.stats.checksRejected).toBe(2);
  });

  it('silently discards a check with a bad FINGERPRINT', () => {
    const { agent, sent } = harness();
    const request = check(agent, { useCandidate: true });
    request[request.length - 1]! ^= 0xff;
    deliver(agent, request);
    expect(sent).toEqual([]);
    expect(agent.stats.stunDiscarded).toBe(1);
  });

  it('caps error responses to a flood of bad credentials and spends no HMAC on foreign ufrags', () => {
    vi.useRealTimers(); // the token bucket runs on the real clock here
    const { agent, sent } = harness();
    const forged = check(agent, { username: 'attacker:brow', pwd: 'attackerattackerattacker' });
    const n = 20_000;
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) deliver(agent, forged);
    const used = process.cpuUsage(start);
    const microsPerRequest = (used.user + used.system) / n;
    expect(agent.stats.checksRejected).toBe(n);
    expect(sent.length).toBeLessThanOrEqual(12); // burst of 10 plus what the refill allows
    expect(agent.stats.responsesRateLimited).toBe(n - sent.length);
    expect(microsPerRequest).toBeLessThan(25);
  });

  it('answers a peer that claims the controlled role with 487 Role Conflict (RFC 8445 §6.1.1, §7.3.1.1)', () => {
    const { agent, sent, selected } = harness();
    deliver(agent, check(agent, { controlled: true, useCandidate: true }));
    const response = parseMessage(sent[0]!.packet, Buffer.from(agent.localCredentials.pwd))!;
    expect(response.getAttributeValue('ERROR-CODE')).toEqual([487, 'Role Conflict']);
    expect(selected).toEqual([]);
  });

  it('drops a captured nominating check replayed from another address', () => {
    const { agent, selected, sent } = harness();
    agent.setRemoteCredentials(REMOTE);
    const request = check(agent, { useCandidate: true });
    deliver(agent, request);
    deliver(agent, request, ROAMED);
    expect(selected).toEqual([BROWSER]);
    expect(agent.stats.replaysDropped).toBe(1);
    expect(sent).toHaveLength(1);
    deliver(agent, request); // a retransmission from the same source is answered again
    expect(sent).toHaveLength(2);
  });

  it('does not let a check naming another remote ufrag nominate', () => {
    const { agent, sent, selected } = harness();
    agent.setRemoteCredentials(REMOTE);
    deliver(agent, check(agent, { username: `${agent.localCredentials.ufrag}:other`, useCandidate: true }));
    expect(parseMessage(sent[0]!.packet)!.messageClass).toBe(classes.RESPONSE);
    expect(selected).toEqual([]);
  });

  it('keeps consent while checks arrive and loses it 30 s after the last one (RFC 7675 §5.1)', () => {
    const { agent, consentLost } = harness();
    agent.setRemoteCredentials(REMOTE);
    deliver(agent, check(agent, { useCandidate: true }));
    for (let t = 0; t < 60; t += 5) {
      vi.advanceTimersByTime(5_000);
      deliver(agent, check(agent));
    }
    expect(consentLost()).toBe(0);
    vi.advanceTimersByTime(29_999);
    expect(consentLost()).toBe(0);
    expect(agent.state).toBe('connected');
    vi.advanceTimersByTime(1);
    expect(consentLost()).toBe(1);
    expect(agent.state).toBe('failed');
    // Consent is not re-established on that pair by late checks (RFC 7675 §5.1).
    deliver(agent, check(agent, { useCandidate: true }));
    vi.advanceTimersByTime(60_000);
    expect(agent.state).toBe('failed');
    expect(consentLost()).toBe(1);
  });

  it('ignores Binding indications (keepalives) for consent', () => {
    const { agent, consentLost } = harness(10_000);
    deliver(agent, check(agent, { useCandidate: true }));
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(2_500);
      deliver(agent, new Message(methods.BINDING, classes.INDICATION).addFingerprint().bytes);
    }
    expect(agent.stats.keepalives).toBe(5);
    expect(consentLost()).toBe(1);
  });

  it('restarts on new remote credentials: new local ones, the old accepted only until the peer uses the new (RFC 8445 §9)', () => {
    const { agent, sent, selected } = harness();
    agent.setRemoteCredentials(REMOTE);
    deliver(agent, check(agent, { useCandidate: true }));
    const old = agent.localCredentials;
    const oldCheck = (): Buffer => check(agent, { username: `${old.ufrag}:${REMOTE.ufrag}`, pwd: old.pwd });

    expect(agent.setRemoteCredentials({ ufrag: 'new1', pwd: 'newbrowserpasswordnew1' })).toBe('restart');
    const fresh = agent.localCredentials;
    expect(fresh.ufrag).not.toBe(old.ufrag);
    expect(fresh.pwd).not.toBe(old.pwd);
    expect(agent.selected).toEqual(BROWSER); // media continues on the previous pair meanwhile

    deliver(agent, oldCheck());
    expect(parseMessage(sent.at(-1)!.packet, Buffer.from(old.pwd))!.messageClass).toBe(classes.RESPONSE);

    deliver(agent, check(agent, { username: `${fresh.ufrag}:new1`, useCandidate: true }), ROAMED);
    expect(selected.at(-1)).toEqual(ROAMED);
    deliver(agent, oldCheck());
    expect(parseMessage(sent.at(-1)!.packet)!.getAttributeValue('ERROR-CODE')[0]).toBe(401);
  });

  it('keeps the credentials it already re-offered when it started the restart itself', () => {
    const { agent } = harness();
    agent.setRemoteCredentials(REMOTE);
    const offered = agent.restartLocal();
    expect(agent.setRemoteCredentials({ ufrag: 'new1', pwd: 'newbrowserpasswordnew1' })).toBe('restart');
    expect(agent.localCredentials).toEqual(offered);
    expect(agent.setRemoteCredentials({ ufrag: 'new1', pwd: 'newbrowserpasswordnew1' })).toBe('unchanged');
  });

  it('close() stops the consent timer and ignores further packets', () => {
    const { agent, sent, consentLost } = harness();
    deliver(agent, check(agent, { useCandidate: true }));
    agent.close();
    agent.close();
    vi.advanceTimersByTime(120_000);
    expect(consentLost()).toBe(0);
    deliver(agent, check(agent));
    expect(sent).toHaveLength(1);
    expect(agent.state).toBe('closed');
  });
});
