/** The registration pill in the top bar and the alert banner under it. */
import type { RegistrationState } from '../common/states.ts';
import type { Failure } from '../common/failure.ts';
import { byId } from './dom.ts';

const LABELS: Record<RegistrationState, string> = {
  'signed-out': 'Signed out',
  connecting: 'Connecting…',
  registering: 'Registering…',
  registered: 'Registered',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  failed: 'Sign-in failed',
};

export class StatusView {
  readonly #pill = byId('registration-status', HTMLDivElement);
  readonly #text = byId('registration-text', HTMLSpanElement);
  readonly #alert = byId('alert', HTMLDivElement);
  readonly #alertText = byId('alert-text', HTMLSpanElement);

  constructor() {
    byId('alert-close', HTMLButtonElement).addEventListener('click', () => this.clearAlert());
  }

  showRegistration(state: RegistrationState, aor: string | null, failure: Failure | null): void {
    this.#pill.dataset['state'] = state;
    let text = LABELS[state];
    if (state === 'registered' && aor) text = `Registered · ${aor.replace(/^sip:/, '')}`;
    if (state === 'failed' && failure) text = failure.code === 'unreachable' ? 'Gateway unreachable' : LABELS.failed;
    this.#text.textContent = text;
    this.#pill.title = failure?.message ?? text;
  }

  showAlert(message: string, kind: 'error' | 'info' = 'error'): void {
    this.#alert.dataset['kind'] = kind;
    this.#alertText.textContent = message;
    this.#alert.hidden = false;
  }

  clearAlert(): void {
    this.#alert.hidden = true;
    this.#alertText.textContent = '';
  }
}
