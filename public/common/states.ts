/** The states the page shows, DOM-free so tests and the debug hook's types can name them. */

export type RegistrationState =
  | 'signed-out'
  | 'connecting'
  /** WebSocket open, REGISTER in flight. */
  | 'registering'
  | 'registered'
  /** WebSocket open and usable without registering (register: false, e.g. the click-to-call widget). */
  | 'connected'
  | 'reconnecting'
  | 'failed';

/** outgoing: calling → ringing → active → ended; incoming: incoming → answering → active → ended. */
export type CallState = 'calling' | 'ringing' | 'incoming' | 'answering' | 'active' | 'ended';
export type CallDirection = 'outgoing' | 'incoming';
