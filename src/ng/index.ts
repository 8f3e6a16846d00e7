/**
 * rtpengine's ng control protocol on top of the media API, so Kamailio's rtpengine module, OpenSIPS or drachtio
 * can drive this media plane as they drive rtpengine. Depends only on src/rtp-bridge/media-api.ts.
 *
 *   bytes ──splitCookie──▶ cookie + body ──decodeNgBody──▶ dictionary (bencode or JSON)
 *         ──parseNgCommand──▶ NgCommand (typed, with warnings) ──executeNgCommand(media)──▶ NgReply
 *         ──encodeNgReply + frameNgMessage──▶ `cookie SP reply`
 *
 * NgServer runs that pipeline on UDP, TCP (NgStreamFramer finds message ends) and WebSocket
 * (`ng.rtpengine.com` / `ng-plain.rtpengine.com`), behind the retransmission cache (CookieCache).
 * media-node-cli.ts (+ src/media-node.ts) is the media-only node: media plane + ng listeners, no SIP.
 */
export {
  BencodeScanner,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_LENGTH,
  decodeBencode,
  decodeBencodePrefix,
  encodeBencode,
} from './bencode.ts';
export type { BencodeDict, BencodeInput, BencodeLimits, BencodeValue } from './bencode.ts';
export { BencodeError, NgError } from './errors.ts';
export type { NgErrorCode } from './errors.ts';
export {
  MAX_COOKIE_LENGTH,
  decodeNgBody,
  encodeNgReply,
  errorReply,
  frameNgMessage,
  parseNgCommand,
  splitCookie,
} from './ng-message.ts';
export type { NgCommand, NgCommandName, NgFormat, NgFrame, NgReply } from './ng-message.ts';
export type { NgParseOptions } from './ng-command.ts';
export { executeNgCommand } from './ng-handler.ts';
export type { NgHandlerContext } from './ng-handler.ts';
export { ControlCounters, sessionReplyFields, statisticsReplyFields } from './ng-reply.ts';
export { CookieCache } from './cookie-cache.ts';
export type { CacheLookup, CookieCacheOptions, ReplyTarget } from './cookie-cache.ts';
export { NgStreamFramer } from './ng-stream.ts';
export { expandRtppFlags } from './rtpp-flags.ts';
export { MAX_UDP_REPLY, NgServer, WS_PLAIN_SUBPROTOCOL, WS_SUBPROTOCOL } from './ng-server.ts';
export type { NgListenAddress, NgServerAddresses, NgServerOptions } from './ng-server.ts';
export {
  CliError,
  MEDIA_NODE_USAGE,
  parseInterface,
  parseListen,
  parseMediaNodeArgs,
  runMediaNode,
} from './media-node-cli.ts';
export type { MediaFactoryOptions, MediaInterface, MediaNodeOptions, RunningMediaNode } from './media-node-cli.ts';
