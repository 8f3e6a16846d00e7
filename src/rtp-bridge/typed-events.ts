/** Moved to src/typed-events.ts (shared with sip-bridge); this path re-exports it for existing importers. */
export { TypedEmitter, type EventMap, type TypedEventSource } from '../typed-events.ts';
