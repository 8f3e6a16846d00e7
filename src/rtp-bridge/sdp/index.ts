/**
 * SDP for the media layer: parsing, RFC 3264 offer/answer, and translation between WebRTC legs (ICE-lite,
 * DTLS-SRTP, rtcp-mux, one port) and plain RTP/AVP legs (even RTP port, RTCP on port + 1). Pure functions, no I/O.
 * The gateway anchors media: every SDP it emits names its own address and port, never the other side's, and it
 * owns the o= line of each leg.
 *
 * ## Flow (shaped like rtpengine's ng offer/answer)
 *
 *   // per leg, once:                     const legB = createLegState('4147052340');
 *   // A's offer arrives:
 *   const o = translateOffer({ sdp: offerFromA, from: 'webrtc', local: endpointB, state: legB, codecs? });
 *   //   o.sdp → send to B;  o.state → new legB (keep the old one if B rejects);  o.remote → A's media
 *   //   (address/ICE/fingerprints/setup/codecs/direction); keep o.pending for the answer.
 *   // B's answer arrives:
 *   const a = translateAnswer({ sdp: answerFromB, pending: o.pending, local: endpointA, state: legA });
 *   //   a.sdp → send to A;  a.state → new legA;  a.remote → B's media;  a.payloadTypes → relay tables
 *   //   (offererToAnswerer / answererToOfferer: {in, out, clockRate, encoding}[]);  a.offerer / a.answerer →
 *   //   per leg: the gateway's direction, rtcp-mux, DTLS role.
 *
 * Re-offers (hold/resume, codec change, ICE restart, new address) from either side go through the same two
 * calls with the roles swapped as needed; the leg states keep o= (same session id, version + 1 when the SDP
 * changes), the m-line layout and the payload type numbers stable (RFC 3264 §8).
 *
 * ## API
 *
 *   parseSdp(text: string): ParsedSession                                        throws SdpError (SDP_INVALID)
 *   translateOffer({ sdp, from: LegKind, local: EndpointDescription, state: LegSdpState,
 *                    codecs?: { relay?, from?, to?: CodecPolicy }, forceNewVersion? }): TranslatedOffer
 *       local and state are B's leg; returns { sdp (to B), state (B's, once sent), remote (A's RemoteMedia),
 *       pending (for translateAnswer) }
 *   translateAnswer({ sdp, pending, local: EndpointDescription, state: LegSdpState, forceNewVersion? })
 *       local and state are A's leg; returns { sdp (to A), state (A's), remote (B's RemoteMedia),
 *       payloadTypes: PayloadTypeMap, offerer and answerer: NegotiatedLeg { direction, rtcpMux, dtlsRole? } }
 *     both throw SdpError (SDP_INVALID | SDP_UNSUPPORTED | SDP_LOCAL_INVALID) or NoCommonCodecError
 *   readPeerAnswer({ sdp, kind: LegKind, state: LegSdpState }): PeerAnswer
 *       a peer's answer to the SDP last sent on its leg (state.lastBody) when no offer of the other side is
 *       pending (the offer in a 2xx, the answer in the ACK); returns { remote, negotiated: NegotiatedLeg, kept:
 *       { ours, theirs: Codec }[] } and writes nothing: the leg's o= state does not move
 *   createLegState(sessionId: string, version = 1): LegSdpState     { origin, lastBody?, slots, payloadTypes }
 *   createOrigin(sessionId: string, version = 1): OriginState        { sessionId, version }
 *   nextOrigin(origin: OriginState): OriginState                     version + 1
 *   findBridgedSection(session, kind): MediaSection                  the audio m-line that is relayed
 *   remoteMedia(session, section, kind, 'offer' | 'answer'): RemoteMedia   PlainRemoteMedia | WebrtcRemoteMedia
 *   isIceRestart(previous: WebrtcRemoteMedia, next: WebrtcRemoteMedia): boolean
 *   selectOfferCodecs(offered: Codec[], policies: CodecPolicy[]): Codec[]   DEFAULT_CODECS is the relay set
 *   sameCodec(a, b), codecKey(c), isTelephoneEvent(c), isRelayablePayloadType(pt)
 *   reverseDirection, intersectDirections, answerDirection, withoutReceive    RFC 3264 §6.1 direction algebra
 *   SdpError: code SDP_INVALID | SDP_UNSUPPORTED | NO_COMMON_CODEC (status 488) | SDP_LOCAL_INVALID (500)
 *   NoCommonCodecError extends SdpError (NO_COMMON_CODEC, 488)
 *
 * PayloadTypeMap = { offererToAnswerer, answererToOfferer: { in, out, clockRate, encoding }[] } — rows fit the
 * stream rewriter's PayloadTypeMapping; a payload type not listed was not negotiated (drop it).
 *
 * Endpoints: PlainEndpoint { kind: 'plain', address, port, rtcpPort?, rtcpMux? } and WebrtcEndpoint { kind:
 * 'webrtc', address, port, ice: { ufrag, pwd }, fingerprints, candidates?, setup? } — `setup` is the DTLS role
 * to answer an actpass offer with (default passive; pass the role in use on re-offers, which browsers send as
 * actpass). Gateway offers always say actpass, a=ice-lite, a=group:BUNDLE with the audio mid, host candidates
 * and a=end-of-candidates; no a=msid (browsers give the track a default stream).
 */
export { parseSdp, MAX_SDP_LENGTH, isIpLiteral, isUnspecifiedAddress } from './parse.ts';
export { translateOffer } from './offer.ts';
export type { CodecOptions, PendingOffer, TranslateOfferInput, TranslatedOffer } from './offer.ts';
export { translateAnswer } from './answer.ts';
export type { NegotiatedLeg, TranslateAnswerInput, TranslatedAnswer } from './answer.ts';
export { readPeerAnswer } from './peer-answer.ts';
export type { KeptCodec, PeerAnswer, ReadPeerAnswerInput } from './peer-answer.ts';
export { createLegState, createOrigin, nextOrigin } from './state.ts';
export type { LegSdpState, MediaSlot, OriginState } from './state.ts';
export type { EndpointDescription, LocalCandidate, PlainEndpoint, WebrtcEndpoint } from './endpoint.ts';
export { findBridgedSection, isIceRestart, remoteMedia } from './remote.ts';
export type { PlainRemoteMedia, RemoteMedia, WebrtcRemoteMedia } from './remote.ts';
export { DEFAULT_CODECS, codecKey, isRelayablePayloadType, isTelephoneEvent, sameCodec, selectOfferCodecs } from './codecs.ts';
export type { CodecPolicy } from './codecs.ts';
export type { PayloadTypeBinding, PayloadTypeMap, PayloadTypeRoute } from './payload-types.ts';
export { answerDirection, intersectDirections, reverseDirection, withoutReceive } from './direction.ts';
export { NoCommonCodecError, SdpError } from './errors.ts';
export type { SdpErrorCode } from './errors.ts';
export type {
  AddressFamily,
  Codec,
  Connection,
  CryptoAttribute,
  Direction,
  DtlsRole,
  Fingerprint,
  IceCandidate,
  IceParameters,
  LegKind,
  MediaSection,
  Origin,
  ParsedSession,
  RtcpAttribute,
  SetupRole,
} from './types.ts';
