/**
 * A typical browser INVITE, shaped like what JsSIP 3.10 sends over WSS (RFC 7118 `.invalid` Via host and Contact,
 * `transport=ws;ob`, its Allow/Supported lists) carrying a Chromium audio offer (BUNDLE, ICE, DTLS fingerprint,
 * rtcp-mux, opus/PCMU/PCMA/telephone-event). Synthesized in that shape for the benchmark and the fuzzer, about
 * 1.2 KB, CRLF line ends, Content-Length exact.
 */
const SDP = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=candidate:1467250027 1 udp 2122260223 192.0.2.10 54400 typ host generation 0 network-id 1',
  'a=ice-ufrag:Fq3x',
  'a=ice-pwd:YHJr8tUHd2ZbCw5nPFwmQ0vS',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:126 telephone-event/8000',
  'a=ssrc:2874306152 cname:XkqA0ZhDqPcn2e1T',
  '',
].join('\r\n');

export function typicalInvite(): Buffer {
  const body = Buffer.from(SDP, 'utf8');
  const head = [
    'INVITE sip:+4930123456@gateway.example.com SIP/2.0',
    'Via: SIP/2.0/WSS f3k29vdlc8sa.invalid;branch=z9hG4bK5473914',
    'Max-Forwards: 69',
    'To: <sip:+4930123456@gateway.example.com>',
    'From: "Alice Example" <sip:alice@gateway.example.com>;tag=0qn4fl4d3c',
    'Call-ID: 7ob2trbgq1vn6kl4ssdf',
    'CSeq: 6302 INVITE',
    'Contact: <sip:p7ik1jrh@f3k29vdlc8sa.invalid;transport=ws;ob>',
    'Content-Type: application/sdp',
    'Session-Expires: 90',
    'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY',
    'Supported: timer,ice,replaces,outbound',
    'User-Agent: JsSIP 3.10.1',
    `Content-Length: ${body.length}`,
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'utf8'), body]);
}
