import { describe, it, expect } from 'vitest';
import { LocationService, type RegisterInput, type ContactInput } from '../../../src/signaling/registrar/location-service.ts';

function contact(uri: string, extra: Partial<ContactInput> = {}): ContactInput {
  return { uri, value: `<${uri}>`, expires: undefined, instanceId: undefined, regId: undefined, ...extra };
}

function req(over: Partial<RegisterInput> = {}): RegisterInput {
  return {
    aor: 'sip:alice@example.test', user: 'alice', callId: 'c1', cseq: 1, wildcard: false,
    contacts: [contact('sip:a1@x.invalid;transport=ws')], expiresHeader: 600, flowId: 'ws-1', userAgent: 'JsSIP', ...over,
  };
}

describe('location service (RFC 3261 §10.3, RFC 5626 §6)', () => {
  it('adds, refreshes and removes a binding', () => {
    let now = 0;
    const ls = new LocationService({ now: () => now });
    expect(ls.register(req())).toMatchObject({ ok: true, added: [{ uri: 'sip:a1@x.invalid;transport=ws' }] });
    now = 599_000;
    expect(ls.register(req({ cseq: 2 }))).toMatchObject({ ok: true, added: [] });
    now = 1_000_000;
    expect(ls.lookup('sip:alice@example.test')).toHaveLength(1);
    expect(ls.register(req({ cseq: 3, expiresHeader: 0 }))).toMatchObject({ ok: true, bindings: [], removed: [{}] });
    expect(ls.size).toBe(0);
  });

  it('keeps several contacts per user (tabs, devices)', () => {
    const ls = new LocationService();
    ls.register(req());
    ls.register(req({ callId: 'c2', contacts: [contact('sip:a2@y.invalid;transport=ws')], flowId: 'ws-2' }));
    expect(ls.lookup('sip:alice@example.test').map((b) => b.flowId)).toEqual(['ws-1', 'ws-2']);
  });

  it('expires bindings', () => {
    let now = 0;
    const ls = new LocationService({ now: () => now });
    ls.register(req({ expiresHeader: 60 }));
    now = 60_001;
    expect(ls.lookup('sip:alice@example.test')).toEqual([]);
  });

  it('refuses an interval below the minimum with 423 and Min-Expires', () => {
    const ls = new LocationService({ minExpires: 60 });
    expect(ls.register(req({ expiresHeader: 30 }))).toEqual({ ok: false, status: 423, reason: 'Interval Too Brief', minExpires: 60 });
    expect(ls.size).toBe(0);
  });

  it('refuses an out-of-order CSeq on the same Call-ID with 500 and changes nothing', () => {
    const ls = new LocationService();
    ls.register(req({ cseq: 5 }));
    expect(ls.register(req({ cseq: 5, expiresHeader: 0 }))).toMatchObject({ ok: false, status: 500 });
    expect(ls.size).toBe(1);
  });

  it('handles the wildcard only with Expires: 0', () => {
    const ls = new LocationService();
    ls.register(req());
    expect(ls.register(req({ callId: 'c9', wildcard: true, contacts: [], expiresHeader: 600 }))).toMatchObject({ ok: false, status: 400 });
    expect(ls.register(req({ callId: 'c9', wildcard: true, contacts: [], expiresHeader: 0 }))).toMatchObject({ ok: true, removed: [{}] });
    expect(ls.size).toBe(0);
  });

  it('replaces the flow of the same instance and reg-id (a reconnected browser) instead of adding', () => {
    const ls = new LocationService();
    const inst = { instanceId: '<urn:uuid:1>', regId: 1 };
    ls.register(req({ contacts: [contact('sip:old@a.invalid;transport=ws', inst)] }));
    const out = ls.register(req({ callId: 'c2', flowId: 'ws-2', contacts: [contact('sip:new@b.invalid;transport=ws', inst)] }));
    expect(out).toMatchObject({ ok: true, added: [], removed: [{ flowId: 'ws-1' }] });
    expect(ls.lookup('sip:alice@example.test').map((b) => b.uri)).toEqual(['sip:new@b.invalid;transport=ws']);
  });

  it('drops every binding of a closed flow', () => {
    const ls = new LocationService();
    ls.register(req());
    ls.register(req({ aor: 'sip:bob@example.test', user: 'bob', callId: 'b', flowId: 'ws-2', contacts: [contact('sip:b@z.invalid')] }));
    expect(ls.removeFlow('ws-1').map((b) => b.user)).toEqual(['alice']);
    expect(ls.size).toBe(1);
  });

  it('caps bindings per AOR', () => {
    const ls = new LocationService({ maxBindingsPerAor: 2 });
    ls.register(req({ contacts: [contact('sip:1@a'), contact('sip:2@a')] }));
    expect(ls.register(req({ callId: 'x', contacts: [contact('sip:3@a')] }))).toMatchObject({ ok: false, status: 503 });
  });
});
