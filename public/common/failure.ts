/**
 * What went wrong, in words a caller understands, with a stable `code` tests and embedders can rely on.
 * Pure: JsSIP causes, SIP responses, WebSocket closes and getUserMedia errors in, a Failure out. No DOM types,
 * so the node test suite can check every mapping.
 */

export type FailureCode =
  | 'wrong-password'
  | 'forbidden'
  | 'unreachable'
  | 'connection-lost'
  | 'timeout'
  | 'busy'
  | 'not-found'
  | 'unavailable'
  | 'declined'
  | 'no-answer'
  | 'address-incomplete'
  | 'incompatible-media'
  | 'trunk-failure'
  | 'microphone-denied'
  | 'no-microphone'
  | 'microphone-busy'
  | 'insecure-context'
  | 'webrtc-unsupported'
  | 'media-failure'
  | 'invalid-settings'
  | 'not-registered'
  | 'sip-error';

export interface Failure {
  readonly code: FailureCode;
  readonly message: string;
  /** The SIP status that caused it, when a response did. */
  readonly status?: number;
  /** The reason the far end gave (reason phrase, or the text of a Reason header, RFC 3326). */
  readonly reason?: string;
}

/** Errors the page raises on purpose carry their Failure, so a catch can show it as is. */
export class SoftphoneError extends Error {
  readonly code: FailureCode;
  readonly failure: Failure;

  constructor(failure: Failure, options?: { cause?: unknown }) {
    super(failure.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SoftphoneError';
    this.code = failure.code;
    this.failure = failure;
  }
}

/** The part of a JsSIP IncomingResponse we read. */
export interface SipResponseLike {
  readonly status_code: number;
  readonly reason_phrase: string;
  getHeader?(name: string): string | undefined;
}

const SHORT: Partial<Record<FailureCode, string>> = {
  busy: 'Busy',
  'not-found': 'Not found',
  unavailable: 'Unavailable',
  declined: 'Declined',
  'no-answer': 'No answer',
  'wrong-password': 'Not authorised',
  forbidden: 'Forbidden',
  'address-incomplete': 'Incomplete number',
  'incompatible-media': 'No common codec',
  'connection-lost': 'Connection lost',
  timeout: 'Timed out',
  'microphone-denied': 'Microphone blocked',
  'no-microphone': 'No microphone',
  'media-failure': 'Audio failed',
};

/** A few words for lists: "Busy", "503 Trunk Unavailable". */
export function shortFailure(failure: Failure): string {
  if (failure.code === 'trunk-failure' || failure.code === 'sip-error') {
    if (failure.status !== undefined) return `${failure.status} ${failure.reason ?? ''}`.trim();
  }
  return SHORT[failure.code] ?? failure.code;
}

export function isSipResponse(value: unknown): value is SipResponseLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { status_code?: unknown }).status_code === 'number'
  );
}

/**
 * The human text of a Reason header (RFC 3326 §2): `Q.850;cause=17;text="User busy"` → `User busy`.
 * Returns undefined when the header has no text parameter.
 */
export function reasonHeaderText(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /;\s*text\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header);
  if (!match?.[1]) return undefined;
  return match[1].replace(/\\(.)/g, '$1');
}

/** The best reason text a response carries: the Reason header's text, else the reason phrase. */
function responseReason(response: SipResponseLike): string | undefined {
  let header: string | undefined;
  try {
    header = response.getHeader?.('Reason');
  } catch {
    header = undefined;
  }
  const text = reasonHeaderText(header) ?? response.reason_phrase?.trim();
  return text ? text : undefined;
}

function withStatus(code: FailureCode, message: string, response: SipResponseLike): Failure {
  const reason = responseReason(response);
  return reason === undefined
    ? { code, message, status: response.status_code }
    : { code, message, status: response.status_code, reason };
}

/** "503 Service Unavailable" style suffix, for messages where the far end's words matter. */
function statusText(response: SipResponseLike): string {
  const reason = responseReason(response);
  return reason ? `${response.status_code} ${reason}` : String(response.status_code);
}

export function unreachable(serverUrl: string, closeCode?: number, closeReason?: string): Failure {
  const detail = closeReason ? ` (${closeReason})` : closeCode && closeCode !== 1006 ? ` (close code ${closeCode})` : '';
  return {
    code: 'unreachable',
    message: `Gateway unreachable: could not open the WebSocket to ${serverUrl}${detail}. Check the server address and that the gateway is running.`,
  };
}

export function connectionLost(serverUrl: string): Failure {
  return {
    code: 'connection-lost',
    message: `Connection to the gateway (${serverUrl}) was lost. Reconnecting…`,
  };
}

/**
 * Why a REGISTER failed. `cause` is JsSIP's cause string (JsSIP.C.causes), `response` its final response if any.
 * JsSIP answers a 401/407 challenge once by itself, so a 401/407 reaching us means the credentials were refused.
 */
export function registrationFailure(cause: string, response: unknown, serverUrl: string): Failure {
  if (isSipResponse(response)) {
    const status = response.status_code;
    if (status === 401 || status === 407 || status === 403) {
      return withStatus('wrong-password', 'Sign-in failed: wrong user name or password.', response);
    }
    if (status === 404) {
      return withStatus('not-found', 'Sign-in failed: this user does not exist on the gateway.', response);
    }
    if (status === 408 || status === 503 || status === 500 || status === 504) {
      return withStatus('unavailable', `Sign-in failed: the gateway answered ${statusText(response)}.`, response);
    }
    return withStatus('sip-error', `Sign-in failed: the gateway answered ${statusText(response)}.`, response);
  }
  if (cause === 'Connection Error') return unreachable(serverUrl);
  if (cause === 'Request Timeout') {
    return { code: 'timeout', message: 'Sign-in failed: the gateway did not answer the REGISTER in time.' };
  }
  if (cause === 'Authentication Error') {
    return { code: 'wrong-password', message: 'Sign-in failed: wrong user name or password.' };
  }
  return { code: 'sip-error', message: `Sign-in failed: ${cause}.` };
}

/**
 * Why a call ended badly, or null when it ended normally (hung up, cancelled by us, answered elsewhere).
 * `cause` and `message` are the fields of JsSIP's `failed`/`ended` event; `peer` names the other side.
 */
export function callFailure(cause: string, message: unknown, peer: string, originator: string): Failure | null {
  if (isSipResponse(message)) {
    const response = message;
    const status = response.status_code;
    if (status >= 200 && status < 300) return null;
    if (status === 486 || status === 600) return withStatus('busy', `${peer} is busy.`, response);
    if (status === 404 || status === 604) return withStatus('not-found', `${peer} was not found.`, response);
    if (status === 480 || status === 410) {
      return withStatus('unavailable', `${peer} is not available right now (not signed in).`, response);
    }
    if (status === 603) return withStatus('declined', `${peer} declined the call.`, response);
    if (status === 487) return null;
    if (status === 401 || status === 407) {
      return withStatus('wrong-password', 'The gateway refused your credentials for this call.', response);
    }
    if (status === 403) return withStatus('forbidden', `Calling ${peer} is not allowed (${statusText(response)}).`, response);
    if (status === 484) return withStatus('address-incomplete', `The number ${peer} is incomplete.`, response);
    if (status === 488 || status === 606 || status === 415) {
      return withStatus('incompatible-media', `${peer} and this browser share no audio codec.`, response);
    }
    if (status === 408 || status === 502 || status === 503 || status === 504 || status === 500) {
      return withStatus('trunk-failure', `The call to ${peer} could not be completed: ${statusText(response)}.`, response);
    }
    return withStatus('sip-error', `The call to ${peer} failed: ${statusText(response)}.`, response);
  }
  switch (cause) {
    case 'Terminated':
    case 'Canceled':
    case 'Redirected':
      return null;
    case 'Rejected':
      // Rejected by us (reject button) is not an error; by the far end without a response it is a decline.
      return originator === 'local' ? null : { code: 'declined', message: `${peer} declined the call.` };
    case 'Connection Error':
      return { code: 'connection-lost', message: 'The connection to the gateway was lost during the call.' };
    case 'Request Timeout':
      return { code: 'timeout', message: `The gateway did not answer while calling ${peer}.` };
    case 'No Answer':
      return { code: 'no-answer', message: `${peer} did not answer.` };
    case 'Expires':
      return { code: 'no-answer', message: 'The call invitation expired.' };
    case 'User Denied Media Access':
      return microphoneFailure({ name: 'NotAllowedError', message: '' });
    case 'WebRTC Error':
    case 'Bad Media Description':
    case 'Incompatible SDP':
    case 'Missing SDP':
      return { code: 'media-failure', message: `The audio connection could not be set up (${cause}).` };
    case 'RTP Timeout':
      return { code: 'media-failure', message: 'The call was dropped: no audio arrived for too long.' };
    case 'No ACK':
    case 'Dialog Error':
      return { code: 'sip-error', message: `The call failed (${cause}).` };
    default:
      return { code: 'sip-error', message: `The call failed (${cause}).` };
  }
}

/** getUserMedia's DOMException, by name (W3C Media Capture §9.2). */
export function microphoneFailure(error: { readonly name: string; readonly message: string }): Failure {
  switch (error.name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return {
        code: 'microphone-denied',
        message: 'Microphone access was blocked. Allow the microphone for this site in the browser settings, then try again.',
      };
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return { code: 'no-microphone', message: 'No microphone was found. Plug one in or pick another in Audio settings.' };
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return { code: 'microphone-busy', message: 'The microphone could not be opened; another application may be using it.' };
    default:
      return { code: 'media-failure', message: `The microphone could not be opened (${error.name}: ${error.message}).` };
  }
}

export function insecureContext(): Failure {
  return {
    code: 'insecure-context',
    message: 'This browser only allows the microphone on https:// pages (or http://localhost). Open the page over HTTPS.',
  };
}
