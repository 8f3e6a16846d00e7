/**
 * Entry point of the embeddable click-to-call widget (bundled to public/build/widget.js as an IIFE so it
 * works from a classic or a module <script>). Every script tag carrying `data-target` becomes a button:
 *
 *   <script src="https://gateway.example/build/widget.js" data-target="echo"
 *           data-user="alice" data-password="demo"></script>
 *
 * Attributes: data-target (required), data-user (required), data-password or data-token, data-gateway
 * (default: ws(s)://<script's host>/sip), data-domain (default: the gateway's host name), data-label,
 * data-display-name, data-container (CSS selector to mount in; default: right after the script tag).
 */
import { ClickToCall, type WidgetConfig } from './click-to-call.ts';

const MOUNTED = 'sipWidgetMounted';

function configFrom(script: HTMLScriptElement): WidgetConfig | string {
  const data = script.dataset;
  const target = data['target']?.trim();
  const user = data['user']?.trim();
  if (!target) return 'data-target is required';
  if (!user) return 'data-user is required';
  const base = script.src ? new URL(script.src, location.href) : new URL(location.href);
  const gateway = data['gateway']?.trim() || `${base.protocol === 'https:' ? 'wss' : 'ws'}://${base.host}/sip`;
  let domain = data['domain']?.trim();
  if (!domain) {
    try {
      domain = new URL(gateway).hostname;
    } catch {
      return `data-gateway "${gateway}" is not a URL`;
    }
  }
  const config: WidgetConfig = {
    gateway,
    user,
    domain,
    target,
    label: data['label']?.trim() || `Call ${target}`,
    ...(data['password'] ? { password: data['password'] } : {}),
    ...(data['token'] ? { token: data['token'] } : {}),
    ...(data['displayName'] ? { displayName: data['displayName'] } : {}),
  };
  return config;
}

function mount(script: HTMLScriptElement): void {
  if (script.dataset[MOUNTED]) return;
  script.dataset[MOUNTED] = 'true';
  const config = configFrom(script);
  if (typeof config === 'string') {
    console.error(`click-to-call widget: ${config}`, script);
    return;
  }
  const host = document.createElement('span');
  host.className = 'sip-click-to-call';
  const selector = script.dataset['container'];
  const container = selector ? document.querySelector(selector) : null;
  if (container) container.append(host);
  else script.after(host);
  const widget = new ClickToCall(host, config);
  // For pages that want to drive it from script: element.sipWidget.start() / .hangup().
  Object.defineProperty(host, 'sipWidget', { value: widget });
}

function mountAll(): void {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.dataset['target'] !== undefined) mount(current);
  // Module scripts have no currentScript; and several widgets may share one copy of this file.
  document.querySelectorAll<HTMLScriptElement>('script[data-target][data-user]').forEach(mount);
}

if (document.readyState === 'loading') {
  mountAll();
  document.addEventListener('DOMContentLoaded', mountAll, { once: true });
} else {
  mountAll();
}
