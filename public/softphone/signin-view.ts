/** The sign-in form: Settings in, Settings out. */
import type { Settings } from './settings.ts';
import { byId } from './dom.ts';

export class SignInView {
  readonly section = byId('signin-view', HTMLElement);
  readonly #form = byId('signin-form', HTMLFormElement);
  readonly #server = byId('server', HTMLInputElement);
  readonly #user = byId('user', HTMLInputElement);
  readonly #password = byId('password', HTMLInputElement);
  readonly #displayName = byId('display-name', HTMLInputElement);
  readonly #remember = byId('remember-password', HTMLInputElement);
  readonly #domain = byId('domain', HTMLInputElement);
  readonly #iceServers = byId('ice-servers', HTMLInputElement);
  readonly #submit = byId('signin-button', HTMLButtonElement);

  constructor(onSubmit: () => void) {
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      onSubmit();
    });
  }

  /** Show settings; the domain field's placeholder tells what an empty domain means. */
  fill(settings: Settings, pageHost: string): void {
    this.#server.value = settings.server;
    this.#user.value = settings.user;
    this.#password.value = settings.password;
    this.#displayName.value = settings.displayName;
    this.#remember.checked = settings.rememberPassword;
    this.#domain.value = settings.domain;
    this.#domain.placeholder = pageHost ? `${pageHost} (this page's host)` : '127.0.0.1';
    this.#iceServers.value = settings.iceServers;
    const radio = this.#form.querySelector<HTMLInputElement>(`input[name="dtmfMode"][value="${settings.dtmfMode}"]`);
    if (radio) radio.checked = true;
  }

  /** The form's values over `base` (which carries what the form does not show, like the chosen devices). */
  read(base: Settings): Settings {
    const dtmf = this.#form.querySelector<HTMLInputElement>('input[name="dtmfMode"]:checked')?.value;
    return {
      ...base,
      server: this.#server.value.trim(),
      user: this.#user.value.trim(),
      password: this.#password.value,
      displayName: this.#displayName.value.trim(),
      rememberPassword: this.#remember.checked,
      domain: this.#domain.value.trim(),
      iceServers: this.#iceServers.value.trim(),
      dtmfMode: dtmf === 'info' ? 'info' : 'rfc4733',
    };
  }

  /** Point at the field that needs fixing. */
  focus(field: 'server' | 'user' | 'password'): void {
    ({ server: this.#server, user: this.#user, password: this.#password })[field].focus();
  }

  setBusy(busy: boolean): void {
    this.#submit.disabled = busy;
    this.#submit.textContent = busy ? 'Connecting…' : 'Sign in';
  }

  set visible(visible: boolean) {
    this.section.hidden = !visible;
  }
}
