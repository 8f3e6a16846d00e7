import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GatewayError } from '../../src/errors.ts';
import { createDtlsCertificate, type DtlsCertificate } from '../../src/webrtc/certificate.ts';
import { DtlsTransport, type DtlsRole, type DtlsSrtpSession } from '../../src/webrtc/dtls-transport.ts';
import type { SrtpProfileName } from '../../src/webrtc/srtp/index.ts';

/**
 * Two DtlsTransports wired back to back in memory (each datagram delivered on the next macrotask, like a
 * network would): the real werift-dtls state machines on both sides plus our filtering and verification.
 */

let alice: DtlsCertificate;
let bob: DtlsCertificate;
let mallory: DtlsCertificate;

beforeAll(async () => {
  [alice, bob, mallory] = await Promise.all([createDtlsCertificate(), createDtlsCertificate(), createDtlsCertificate()]);
});

const open: DtlsTransport[] = [];
afterEach(() => {
  for (const t of open.splice(0)) t.close();
  vi.useRealTimers();
});

type Outcome = { session: DtlsSrtpSession } | { error: GatewayError };

interface Side {
  certificate: DtlsCertificate;
  /** Fingerprints this side expects of the other; defaults to the other's real one. */
  expects?: DtlsCertificate;
  profiles?: SrtpProfileName[];
}

interface Wire {
  client: DtlsTransport;
  server: DtlsTransport;
  clientOutcome: Promise<Outcome>;
  serverOutcome: Promise<Outcome>;
  /** Every datagram each side sent, in order. */
  sent: Record<DtlsRole, Buffer[]>;
  /** Every failure each side reported, including those after it connected. */
  errors: Record<DtlsRole, GatewayError[]>;
}

function wire(clientSide: Side, serverSide: Side, tap?: (from: DtlsRole, packet: Buffer, deliver: (p: Buffer) => void) => void): Wire {
  const sent: Record<DtlsRole, Buffer[]> = { client: [], server: [] };
  const errors: Record<DtlsRole, GatewayError[]> = { client: [], server: [] };
  const transports = {} as Record<DtlsRole, DtlsTransport>;
  const make = (role: DtlsRole, me: Side, other: Side): Promise<Outcome> =>
    new Promise((resolve) => {
      const peer: DtlsRole = role === 'client' ? 'server' : 'client';
      transports[role] = new DtlsTransport({
        role,
        certificate: me.certificate,
        remoteFingerprints: [(me.expects ?? other.certificate).fingerprint],
        srtpProfiles: me.profiles,
        send: (packet) => {
          sent[role].push(packet);
          const deliver = (p: Buffer): void => void setImmediate(() => transports[peer].handleDatagram(p));
          if (tap) tap(role, packet, deliver);
          else deliver(packet);
        },
        onConnected: (session) => resolve({ session }),
        onFailed: (error) => {
          errors[role].push(error);
          resolve({ error });
        },
      });
      open.push(transports[role]);
    });
  const serverOutcome = make('server', serverSide, clientSide);
  const clientOutcome = make('client', clientSide, serverSide);
  transports.server.start();
  transports.client.start();
  return { client: transports.client, server: transports.server, clientOutcome, serverOutcome, sent, errors };
}

function session(outcome: Outcome): DtlsSrtpSession {
  if ('error' in outcome) throw outcome.error;
  return outcome.session;
}

describe('DtlsTransport (werift-dtls + verification)', () => {
  it('derives mirrored SRTP keys in both roles, AES_CM_128_HMAC_SHA1_80 preferred (RFC 5764 §4.2)', async () => {
    const w = wire({ certificate: alice }, { certificate: bob });
    const client = session(await w.clientOutcome);
    const server = session(await w.serverOutcome);
    expect(client.profile).toBe('SRTP_AES128_CM_HMAC_SHA1_80');
    expect(server.profile).toBe('SRTP_AES128_CM_HMAC_SHA1_80');
    expect(client.local).toEqual(server.remote);
    expect(client.remote).toEqual(server.local);
    expect(client.local.masterKey).toHaveLength(16);
    expect(client.local.masterSalt).toHaveLength(14);
    expect(client.local.masterKey.equals(client.remote.masterKey)).toBe(false);
    expect(client.remoteFingerprint).toEqual({ algorithm: 'sha-256', value: bob.fingerprint.value });
    expect(server.remoteFingerprint.value).toBe(alice.fingerprint.value);
    expect(w.client.state).toBe('connected');
  });

  it.each<[SrtpProfileName[], SrtpProfileName[], SrtpProfileName, number]>([
    [['SRTP_AES128_CM_HMAC_SHA1_32'], ['SRTP_AEAD_AES_128_GCM', 'SRTP_AES128_CM_HMAC_SHA1_80', 'SRTP_AES128_CM_HMAC_SHA1_32'], 'SRTP_AES128_CM_HMAC_SHA1_32', 14],
    [['SRTP_AES128_CM_HMAC_SHA1_80', 'SRTP_AEAD_AES_128_GCM'], ['SRTP_AEAD_AES_128_GCM', 'SRTP_AES128_CM_HMAC_SHA1_80'], 'SRTP_AEAD_AES_128_GCM', 12],
    [['SRTP_AEAD_AES_256_GCM'], ['SRTP_AEAD_AES_256_GCM'], 'SRTP_AEAD_AES_256_GCM', 12],
  ])('client offering %j to a server accepting %j negotiates %s', async (offered, accepted, expected, saltLength) => {
    const w = wire({ certificate: alice, profiles: offered }, { certificate: bob, profiles: accepted });
    const client = session(await w.clientOutcome);
    expect(session(await w.serverOutcome).profile).toBe(expected);
    expect(client.profile).toBe(expected);
    expect(client.local.masterSalt).toHaveLength(saltLength);
  });

  it('fails the handshake when no SRTP profile is common', async () => {
    const w = wire({ certificate: alice, profiles: ['SRTP_AES128_CM_HMAC_SHA1_32'] }, { certificate: bob, profiles: ['SRTP_AEAD_AES_128_GCM'] });
    const outcome = await w.serverOutcome;
    expect('error' in outcome && outcome.error.code).toBe('DTLS_HANDSHAKE_FAILED');
  });

  it.each<DtlsRole>(['client', 'server'])('the %s refuses a certificate its a=fingerprint does not name', async (role) => {
    const w =
      role === 'client'
        ? wire({ certificate: alice, expects: mallory }, { certificate: bob })
        : wire({ certificate: alice }, { certificate: bob, expects: mallory });
    const outcome = await (role === 'client' ? w.clientOutcome : w.serverOutcome);
    expect('error' in outcome && outcome.error.code).toBe('DTLS_FINGERPRINT_MISMATCH');
  });

  // An attacker can replay the victim's certificate (it is sent in clear) but cannot sign with its key.
  // werift-dtls alone completes these handshakes; the verification must not.
  it('as server, refuses a client that presents a certificate whose key it does not hold (CertificateVerify)', async () => {
    const impostor: DtlsCertificate = { ...alice, keyPem: mallory.keyPem };
    const w = wire({ certificate: impostor, expects: bob }, { certificate: bob, expects: alice });
    const outcome = await w.serverOutcome;
    expect('error' in outcome && outcome.error.code).toBe('DTLS_HANDSHAKE_FAILED');
    expect('error' in outcome && outcome.error.message).toMatch(/CertificateVerify/);
  });

  it('as client, refuses a server that presents a certificate whose key it does not hold (ServerKeyExchange)', async () => {
    const impostor: DtlsCertificate = { ...bob, keyPem: mallory.keyPem };
    const w = wire({ certificate: alice, expects: bob }, { certificate: impostor, expects: alice });
    const outcome = await w.clientOutcome;
    expect('error' in outcome && outcome.error.code).toBe('DTLS_HANDSHAKE_FAILED');
    expect('error' in outcome && outcome.error.message).toMatch(/ServerKeyExchange/);
  });

  it('drops a stale cookie-less ClientHello that arrives after the cookie exchange (RFC 6347 §4.2.1)', async () => {
    let firstHello: Buffer | undefined;
    let helloCount = 0;
    const w = wire({ certificate: alice }, { certificate: bob }, (from, packet, deliver) => {
      deliver(packet);
      if (from === 'client' && packet[13] === 1) {
        helloCount++;
        if (helloCount === 1) firstHello = packet;
        // Right behind the ClientHello with the cookie, the network delivers a late copy of the first one.
        if (helloCount === 2) setImmediate(() => setImmediate(() => w.server.handleDatagram(firstHello!)));
      }
    });
    const server = session(await w.serverOutcome);
    expect(session(await w.clientOutcome).local).toEqual(server.remote);
    expect(w.server.stats.dropped).toBeGreaterThanOrEqual(1);
  });

  // werift sends every handshake message in its own datagram; lose each one once. The server's second flight
  // is safe only because client-flight records are passed to werift strictly in order (DtlsTransport).
  it.each([
    ['server', 2, 'ServerHello'],
    ['server', 11, 'server Certificate'],
    ['server', 12, 'ServerKeyExchange'],
    ['server', 14, 'ServerHelloDone'],
    ['client', 11, 'client Certificate'],
    ['client', 16, 'ClientKeyExchange'],
    ['client', 15, 'CertificateVerify'],
    ['client', 20, 'client Finished'],
    ['server', 20, 'server Finished'],
  ] as const)('completes through retransmission when the %s datagram carrying handshake type %i (%s) is lost once', async (role, type, _name) => {
    let lost = false;
    const w = wire({ certificate: alice }, { certificate: bob }, (from, packet, deliver) => {
      const encrypted = packet.readUInt16BE(3) > 0;
      const messageType = packet[0] === 22 ? (encrypted ? 20 : packet[13]) : -1; // the only encrypted handshake message is Finished
      if (!lost && from === role && messageType === type) lost = true;
      else deliver(packet);
    });
    const server = session(await w.serverOutcome);
    expect(session(await w.clientOutcome).remote).toEqual(server.local);
    expect(lost).toBe(true);
  });

  it('ignores a ClientHello and a plaintext fatal alert once connected', async () => {
    const w = wire({ certificate: alice }, { certificate: bob });
    await w.serverOutcome;
    await w.clientOutcome;
    const before = w.server.session;
    const dropped = w.server.stats.dropped;
    w.server.handleDatagram(w.sent.client[0]!); // the client's first ClientHello again: werift would renegotiate
    expect(w.server.stats.dropped).toBe(dropped + 1);
    const alert = Buffer.from([21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 2, 2, 40]);
    w.server.handleDatagram(alert);
    expect(w.server.state).toBe('connected');
    expect(w.server.session).toBe(before);
  });

  it('ends the association on an authenticated close_notify from the peer, and ignores a forged one', async () => {
    const w = wire({ certificate: alice }, { certificate: bob });
    await w.serverOutcome;
    await w.clientOutcome;
    const notify = w.client.closeNotify()!;
    expect(notify[0]).toBe(21);
    expect(notify.readUInt16BE(3)).toBe(1); // epoch 1: encrypted
    const forged = Buffer.from(notify);
    forged[forged.length - 1]! ^= 1;
    w.server.handleDatagram(forged);
    expect(w.server.state).toBe('connected');
    w.server.handleDatagram(notify);
    expect(w.server.state).toBe('failed');
    expect(w.errors.server.map((e) => e.code)).toEqual(['DTLS_CLOSED_BY_PEER']);
  });

  it('fails the handshake on a plaintext fatal alert before it completes', async () => {
    const failed = new Promise<GatewayError>((resolve) => {
      const t = new DtlsTransport({
        role: 'server',
        certificate: bob,
        remoteFingerprints: [alice.fingerprint],
        send: () => {},
        onConnected: () => {},
        onFailed: resolve,
      });
      open.push(t);
      t.start();
      t.handleDatagram(Buffer.from([21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 40])); // handshake_failure
    });
    expect((await failed).code).toBe('DTLS_HANDSHAKE_FAILED');
  });

  it('does not hand werift record types it would mistake for alerts', async () => {
    const w = wire({ certificate: alice }, { certificate: bob }, (from, packet, deliver) => {
      if (from === 'client' && packet[13] === 1) {
        const heartbeat = Buffer.from([24, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 3, 1, 0, 0]);
        deliver(Buffer.concat([heartbeat, packet]));
      } else deliver(packet);
    });
    expect(session(await w.serverOutcome).profile).toBe('SRTP_AES128_CM_HMAC_SHA1_80');
    await w.clientOutcome;
  });

  it('fails with DTLS_HANDSHAKE_TIMEOUT when no peer ever shows up', () => {
    vi.useFakeTimers();
    const errors: GatewayError[] = [];
    const t = new DtlsTransport({
      role: 'server',
      certificate: bob,
      remoteFingerprints: [alice.fingerprint],
      send: () => {},
      onConnected: () => {},
      onFailed: (error) => errors.push(error),
      handshakeTimeoutMs: 5_000,
    });
    open.push(t);
    t.start();
    vi.advanceTimersByTime(4_999);
    expect(errors).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(errors.map((e) => e.code)).toEqual(['DTLS_HANDSHAKE_TIMEOUT']);
    expect(t.state).toBe('failed');
  });

  it('survives garbage from the validated address', async () => {
    const w = wire({ certificate: alice }, { certificate: bob });
    await w.serverOutcome;
    for (const junk of [Buffer.from([22]), Buffer.from([22, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), Buffer.alloc(40, 23)]) {
      w.server.handleDatagram(junk);
      w.client.handleDatagram(junk);
    }
    expect(w.server.state).toBe('connected');
  });
});
