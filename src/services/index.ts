/**
 * The built-in services peer (echo, tone): a separate SIP endpoint the gateway calls over real SIP/UDP and RTP.
 *
 *   const peer = new ServicesPeer({ host: '127.0.0.1', port: 5070, echo: 'echo', tone: 'tone' });
 *   await peer.start();
 *   peer.on('dtmf', (callId, digit) => …);   peer.on('call-ended', (callId, reason) => …);
 *   await peer.close();
 */
export { ServicesPeer, ServicesConfigError, SERVICES_PEER_DEFAULTS } from './services-peer.ts';
export type { ServicesPeerOptions, ServicesPeerEvents, ServicesPeerCounters } from './services-peer.ts';
export type { CallEndReason, CallState, ServiceCallInfo } from './service-call.ts';
export type { CallMediaCounters } from './call-media.ts';
export type { ServiceKind } from './sdp-answer.ts';
export type { DtmfDigit } from './telephone-event.ts';
export { DEFAULT_TONE, TonePatternError } from './tone.ts';
export type { ToneSegment } from './tone.ts';
export { alawCompress, alawExpand, ulawCompress, ulawExpand, encodeG711, decodeG711 } from './g711.ts';
export type { G711Law } from './g711.ts';
