import { describe, it, expect } from 'vitest';
import { parseInfoDtmf } from '../../src/sip-bridge/dtmf-info.ts';

describe('INFO DTMF bodies', () => {
  it('reads JsSIP application/dtmf-relay', () => {
    expect(parseInfoDtmf('application/dtmf-relay', Buffer.from('Signal=5\r\nDuration=160\r\n'))).toEqual({ digit: '5', durationMs: 160 });
    expect(parseInfoDtmf('application/dtmf-relay', Buffer.from('Signal= #\r\nDuration= 250'))).toEqual({ digit: '#', durationMs: 250 });
  });

  it('reads application/dtmf', () => {
    expect(parseInfoDtmf('application/dtmf', Buffer.from('*'))).toEqual({ digit: '*', durationMs: 160 });
  });

  it('refuses other bodies and bad digits', () => {
    expect(parseInfoDtmf('application/dtmf-relay', Buffer.from('Signal=x\r\n'))).toBeUndefined();
    expect(parseInfoDtmf('application/json', Buffer.from('{}'))).toBeUndefined();
    expect(parseInfoDtmf(undefined, Buffer.alloc(0))).toBeUndefined();
  });
});
