/**
 * The number field, the 12-key pad and the keyboard. In 'dial' mode keys edit the number; in 'dtmf' mode
 * (a call is up) digit keys become tones; in 'off' mode only Enter and Escape mean something.
 */
import { isDtmfKey } from '../common/dtmf.ts';
import { byId, isEditable } from './dom.ts';

export type DialerMode = 'dial' | 'dtmf' | 'off';

export interface DialerHandlers {
  /** A pad key or typed digit while in 'dtmf' mode, or any pad key in 'dial' mode (for the click tone). */
  onKey(key: string, mode: DialerMode): void;
  onEnter(): void;
  onEscape(): void;
}

/** Characters a SIP user part or a number may contain, as typed outside the number field. */
const TYPABLE = /^[A-Za-z0-9*#+@._\-]$/;

export class Dialer {
  readonly input = byId('dial-input', HTMLInputElement);
  readonly #keypad = byId('keypad', HTMLDivElement);
  readonly #handlers: DialerHandlers;
  mode: DialerMode = 'off';

  constructor(handlers: DialerHandlers) {
    this.#handlers = handlers;
    this.#keypad.addEventListener('click', (event) => {
      const button = (event.target as Element | null)?.closest<HTMLButtonElement>('button[data-key]');
      const key = button?.dataset['key'];
      if (key) this.#press(key, 'pad');
    });
    byId('backspace-button', HTMLButtonElement).addEventListener('click', () => this.backspace());
    document.addEventListener('keydown', (event) => this.#onKeyDown(event));
  }

  get value(): string {
    return this.input.value;
  }

  set value(text: string) {
    this.input.value = text;
  }

  append(text: string): void {
    this.input.value += text;
    // Keep the end of a long number in view.
    this.input.scrollLeft = this.input.scrollWidth;
  }

  backspace(): void {
    this.input.value = this.input.value.slice(0, -1);
  }

  set keypadOpen(open: boolean) {
    this.#keypad.classList.toggle('open', open);
  }

  #press(key: string, source: 'pad' | 'keyboard'): void {
    if (this.mode === 'off') return;
    if (this.mode === 'dial' && source === 'pad') this.append(key);
    this.#flash(key);
    this.#handlers.onKey(key, this.mode);
  }

  #flash(key: string): void {
    const button = this.#keypad.querySelector<HTMLButtonElement>(`button[data-key="${CSS.escape(key)}"]`);
    if (!button) return;
    button.classList.add('pressed');
    setTimeout(() => button.classList.remove('pressed'), 120);
  }

  #onKeyDown(event: KeyboardEvent): void {
    if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const inNumberField = target === this.input;
    if (event.key === 'Escape') {
      this.#handlers.onEscape();
      return;
    }
    if (event.key === 'Enter') {
      // Enter dials from the number field, the pad, or nowhere in particular; on other controls it keeps
      // its native meaning (activate that button, submit that form).
      const onPad = target instanceof Element && this.#keypad.contains(target);
      if (inNumberField || onPad || target === document.body || target === null) {
        event.preventDefault();
        this.#handlers.onEnter();
      }
      return;
    }
    if (this.mode === 'off' || (isEditable(target) && !inNumberField)) return;
    if (this.mode === 'dtmf') {
      if (isDtmfKey(event.key)) {
        event.preventDefault();
        this.#press(event.key, 'keyboard');
      }
      return;
    }
    // 'dial' mode: the number field edits itself; elsewhere on the page typing goes to it too.
    if (inNumberField) {
      if (isDtmfKey(event.key)) this.#press(event.key, 'keyboard');
      return;
    }
    if (event.key === 'Backspace') {
      event.preventDefault();
      this.backspace();
    } else if (TYPABLE.test(event.key)) {
      event.preventDefault();
      this.append(event.key);
      if (isDtmfKey(event.key)) this.#press(event.key, 'keyboard');
    }
  }
}
