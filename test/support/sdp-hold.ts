/**
 * Hold in SDP the way JsSIP does it (RTCSession.js _mangleOffer, _processInDialogSdpOffer): the peer connection
 * keeps negotiating sendrecv, and only the offer on the wire is rewritten (RFC 3264 §8.4: sendonly puts the
 * peer on hold; both on hold is inactive). Audio and video m-lines only.
 */
type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

const HOLD_MEDIA = new Set(['audio', 'video']);
const DIRECTION_RE = /^a=(sendrecv|sendonly|recvonly|inactive)(?=\r?$)/m;

function sections(sdp: string): string[] {
  return sdp.split(/(?=^m=)/m);
}

function mediaType(section: string): string | undefined {
  return /^m=(\S+)/.exec(section)?.[1];
}

function setDirection(section: string, direction: Direction): string {
  if (DIRECTION_RE.test(section)) return section.replace(DIRECTION_RE, `a=${direction}`);
  const eol = section.includes('\r\n') ? '\r\n' : '\n';
  return section.endsWith(eol) ? `${section}a=${direction}${eol}` : `${section}${eol}a=${direction}`;
}

function directionOf(section: string): Direction | undefined {
  return DIRECTION_RE.exec(section)?.[1] as Direction | undefined;
}

/** The offer as JsSIP sends it given the local and remote hold state. */
export function mangleOffer(sdp: string, localHold: boolean, remoteHold: boolean): string {
  if (!localHold && !remoteHold) return sdp;
  return sections(sdp).map((section) => {
    const type = mediaType(section);
    if (type === undefined || !HOLD_MEDIA.has(type)) return section;
    const current = directionOf(section);
    if (localHold && remoteHold) return setDirection(section, 'inactive');
    if (localHold) {
      if (current === undefined || current === 'sendrecv') return setDirection(section, 'sendonly');
      if (current === 'recvonly') return setDirection(section, 'inactive');
      return section;
    }
    if (current === undefined || current === 'sendrecv') return setDirection(section, 'recvonly');
    if (current === 'recvonly') return setDirection(section, 'inactive');
    return section;
  }).join('');
}

/** True when every audio/video m-line of an offer is sendonly or inactive (the peer holds us). */
export function isHoldOffer(sdp: string): boolean {
  const all = sections(sdp);
  const sessionDirection = directionOf(all[0] ?? '') ?? 'sendrecv';
  let hold = false;
  for (const section of all.slice(1)) {
    const type = mediaType(section);
    if (type === undefined || !HOLD_MEDIA.has(type)) continue;
    const direction = directionOf(section) ?? sessionDirection;
    if (direction !== 'sendonly' && direction !== 'inactive') return false;
    hold = true;
  }
  return hold;
}

/** The direction attribute of the first audio m-line (sendrecv when absent, RFC 3264 §5.1). */
export function audioDirection(sdp: string): Direction {
  const all = sections(sdp);
  const audio = all.find((s) => mediaType(s) === 'audio');
  return (audio === undefined ? undefined : directionOf(audio)) ?? directionOf(all[0] ?? '') ?? 'sendrecv';
}
