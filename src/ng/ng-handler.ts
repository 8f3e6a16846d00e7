/**
 * Carries out one parsed ng command against the media API and builds the reply. Never throws: whatever the
 * media API throws becomes `{ result: 'error', 'error-reason': <message> }`, as rtpengine reports any failed
 * command.
 */
import type { MediaApi } from '../rtp-bridge/media-api.ts';
import type { NgCommand } from './ng-command.ts';
import { errorReply } from './ng-message.ts';
import type { NgReply } from './ng-message.ts';
import { sessionReplyFields, statisticsReplyFields } from './ng-reply.ts';
import type { ControlCounters } from './ng-reply.ts';

export interface NgHandlerContext {
  /** When the control server started (ms since the epoch), for `uptime`. */
  startedAt: number;
  control: ControlCounters;
  now?: () => number;
}

/** rtpengine's texts for these cases (call.c / call_interfaces.c), which proxies' log parsers may know. */
const UNKNOWN_CALL = 'Unknown call-ID';
const DELETE_NOT_FOUND = "Call-ID not found or tags didn't match";

export async function executeNgCommand(media: MediaApi, cmd: NgCommand, ctx: NgHandlerContext): Promise<NgReply> {
  const now = ctx.now ?? Date.now;
  const warnings = [...cmd.warnings];
  let reply: NgReply;
  try {
    reply = await run(media, cmd, ctx, now, warnings);
  } catch (err) {
    return errorReply(err instanceof Error && err.message !== '' ? err.message : 'Internal error');
  }
  if (reply.result === 'error' || warnings.length === 0) return reply;
  return { ...reply, warning: warnings.join('; ') };
}

async function run(
  media: MediaApi,
  cmd: NgCommand,
  ctx: NgHandlerContext,
  now: () => number,
  warnings: string[],
): Promise<NgReply> {
  switch (cmd.command) {
    case 'ping':
      return { result: 'pong' };
    case 'offer':
      return { result: 'ok', sdp: await media.offer(cmd.callId, cmd.fromTag, cmd.sdp, cmd.flags) };
    case 'answer': {
      if (cmd.offererKind !== undefined) {
        // The offerer's transport was fixed by its offer; flags in the answer cannot change it.
        const session = await media.query(cmd.callId);
        const offerer = session?.legs.find((leg) => leg.tag === cmd.fromTag);
        if (offerer !== undefined && offerer.kind !== cmd.offererKind) {
          warnings.push(`the offerer's leg is ${offerer.kind}; transport flags asking for ${cmd.offererKind} ignored`);
        }
      }
      return { result: 'ok', sdp: await media.answer(cmd.callId, cmd.fromTag, cmd.toTag, cmd.sdp, cmd.flags) };
    }
    case 'subscribe answer':
      await media.subscribeAnswer(cmd.callId, cmd.toTag, cmd.sdp);
      return { result: 'ok' };
    case 'delete': {
      const stats = cmd.fatal || !cmd.fast ? await media.query(cmd.callId) : undefined;
      if (stats === undefined && (cmd.fatal || !cmd.fast)) {
        if (cmd.fatal) return errorReply(DELETE_NOT_FOUND);
        warnings.push(DELETE_NOT_FOUND);
      }
      await media.delete(cmd.callId);
      if (stats === undefined || cmd.fast) return { result: 'ok' };
      return { result: 'ok', ...sessionReplyFields(stats, now()) };
    }
    case 'query': {
      const stats = await media.query(cmd.callId);
      if (stats === undefined) return errorReply(UNKNOWN_CALL);
      return { result: 'ok', ...sessionReplyFields(stats, now()) };
    }
    case 'list':
      return { result: 'ok', calls: (await media.list()).slice(0, cmd.limit) };
    case 'statistics': {
      const stats = await media.statistics();
      return { result: 'ok', ...statisticsReplyFields(stats, now() - ctx.startedAt, ctx.control) };
    }
    case 'block media':
    case 'unblock media':
      await media.blockMedia(cmd.callId, cmd.tag, cmd.command === 'block media');
      return { result: 'ok' };
    case 'play DTMF': {
      const stats = await media.query(cmd.callId);
      if (stats === undefined) return errorReply(UNKNOWN_CALL);
      if (!stats.legs.some((leg) => leg.tag === cmd.fromTag)) return errorReply('Unknown from-tag');
      // rtpengine selects the participant generating the event; the media API names the one receiving it.
      const explicit = stats.legs.find((leg) => leg.tag === cmd.toTag && leg.tag !== cmd.fromTag);
      const target = explicit ?? stats.legs.find((leg) => leg.tag !== cmd.fromTag);
      if (target === undefined) return errorReply('No other participant to play DTMF to');
      await media.playDtmf(cmd.callId, target.tag, cmd.digit, cmd.durationMs);
      return { result: 'ok' };
    }
    case 'play media':
    case 'start recording':
    case 'stop recording':
      return errorReply(`Command '${cmd.command}' not supported`);
  }
}
