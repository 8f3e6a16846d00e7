import { describe, expect, it } from 'vitest';
import {
  callFailure,
  microphoneFailure,
  reasonHeaderText,
  registrationFailure,
  shortFailure,
  unreachable,
  type SipResponseLike,
} from '../../public/common/failure.ts';

function response(status: number, reason: string, headers: Record<string, string> = {}): SipResponseLike {
  return { status_code: status, reason_phrase: reason, getHeader: (name) => headers[name.toLowerCase()] };
}

describe('registrationFailure', () => {
  it('names a refused password: 401/407 after JsSIP answered the challenge once, or 403', () => {
    for (const status of [401, 407, 403]) {
      expect(registrationFailure('Authentication Error', response(status, 'x'), 'ws://gw/sip')).toMatchObject({
        code: 'wrong-password',
        status,
        message: 'Sign-in failed: wrong user name or password.',
      });
    }
  });

  it('calls a transport failure during REGISTER "gateway unreachable"', () => {
    expect(registrationFailure('Connection Error', null, 'ws://127.0.0.1:1/sip')).toEqual(unreachable('ws://127.0.0.1:1/sip'));
  });

  it('quotes any other final response', () => {
    expect(registrationFailure('SIP Failure Code', response(500, 'Server Internal Error'), 'ws://gw/sip').message).toBe(
      'Sign-in failed: the gateway answered 500 Server Internal Error.',
    );
  });
});

describe('callFailure', () => {
  it('maps the statuses a caller meets to stable codes', () => {
    const cases: Array<[number, string, string]> = [
      [486, 'Busy Here', 'busy'],
      [600, 'Busy Everywhere', 'busy'],
      [404, 'Not Found', 'not-found'],
      [480, 'Temporarily Unavailable', 'unavailable'],
      [603, 'Decline', 'declined'],
      [403, 'Forbidden', 'forbidden'],
      [484, 'Address Incomplete', 'address-incomplete'],
      [488, 'Not Acceptable Here', 'incompatible-media'],
      [503, 'Service Unavailable', 'trunk-failure'],
      [408, 'Request Timeout', 'trunk-failure'],
      [407, 'Proxy Authentication Required', 'wrong-password'],
      [499, 'Odd', 'sip-error'],
    ];
    for (const [status, reason, code] of cases) {
      expect(callFailure('whatever', response(status, reason), 'bob', 'remote'), `${status}`).toMatchObject({ code, status, reason });
    }
  });

  it('quotes the trunk’s own reason, preferring a Reason header’s text (RFC 3326)', () => {
    expect(callFailure('Unavailable', response(503, 'Trunk Unavailable'), '+15550100', 'remote')?.message).toBe(
      'The call to +15550100 could not be completed: 503 Trunk Unavailable.',
    );
    const withReason = response(503, 'Service Unavailable', { reason: 'Q.850;cause=34;text="No circuit available"' });
    expect(callFailure('Unavailable', withReason, '+15550100', 'remote')).toMatchObject({
      code: 'trunk-failure',
      reason: 'No circuit available',
      message: 'The call to +15550100 could not be completed: 503 No circuit available.',
    });
  });

  it('is null for calls that ended normally: hang-up, our cancel, our reject, 487', () => {
    expect(callFailure('Terminated', null, 'bob', 'remote')).toBeNull();
    expect(callFailure('Canceled', null, 'bob', 'local')).toBeNull();
    expect(callFailure('Rejected', null, 'bob', 'local')).toBeNull();
    expect(callFailure('Canceled', response(487, 'Request Terminated'), 'bob', 'remote')).toBeNull();
  });

  it('explains failures without a response', () => {
    expect(callFailure('Connection Error', null, 'bob', 'system')?.code).toBe('connection-lost');
    expect(callFailure('Request Timeout', null, 'bob', 'system')?.code).toBe('timeout');
    expect(callFailure('RTP Timeout', null, 'bob', 'local')?.code).toBe('media-failure');
    expect(callFailure('User Denied Media Access', null, 'bob', 'local')?.code).toBe('microphone-denied');
  });
});

describe('microphoneFailure', () => {
  it('maps getUserMedia DOMException names (Media Capture and Streams §9.2)', () => {
    expect(microphoneFailure({ name: 'NotAllowedError', message: 'Permission denied' }).code).toBe('microphone-denied');
    expect(microphoneFailure({ name: 'NotFoundError', message: '' }).code).toBe('no-microphone');
    expect(microphoneFailure({ name: 'NotReadableError', message: '' }).code).toBe('microphone-busy');
    expect(microphoneFailure({ name: 'TypeError', message: 'bad' })).toMatchObject({ code: 'media-failure' });
  });
});

describe('reasonHeaderText and shortFailure', () => {
  it('reads the quoted text parameter, unescaping quoted pairs', () => {
    expect(reasonHeaderText('SIP;cause=200;text="Call completed elsewhere"')).toBe('Call completed elsewhere');
    expect(reasonHeaderText('Q.850 ; cause=16 ; text = "say \\"bye\\""')).toBe('say "bye"');
    expect(reasonHeaderText('Q.850;cause=16')).toBeUndefined();
    expect(reasonHeaderText(undefined)).toBeUndefined();
  });

  it('gives a few words for the recent-calls list', () => {
    expect(shortFailure({ code: 'busy', message: '', status: 486 })).toBe('Busy');
    expect(shortFailure({ code: 'trunk-failure', message: '', status: 503, reason: 'Trunk Unavailable' })).toBe('503 Trunk Unavailable');
  });
});
