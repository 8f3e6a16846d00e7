/** The widget's CSS, scoped by its shadow root so the host page's styles cannot reach in (nor ours out). */
export const WIDGET_CSS = `
:host { all: initial; display: inline-block; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #0f172a; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.box { display: inline-flex; align-items: center; gap: 10px; padding: 6px; border-radius: 999px; background: #fff;
  box-shadow: 0 1px 2px rgba(15,23,42,.06), 0 10px 28px -12px rgba(15,23,42,.35); border: 1px solid rgba(15,23,42,.08); }
.box.idle { padding: 0; background: none; box-shadow: none; border: 0; }
button { font: inherit; cursor: pointer; border: 0; -webkit-tap-highlight-color: transparent; }
button:focus-visible { outline: none; box-shadow: 0 0 0 3px rgba(99,102,241,.5); }
.call { display: inline-flex; align-items: center; gap: 10px; min-height: 48px; padding: 0 22px 0 16px; border-radius: 999px;
  background: linear-gradient(160deg, #22c55e, #16a34a); color: #fff; font-weight: 700; letter-spacing: .01em;
  box-shadow: 0 10px 22px -10px rgba(22,163,74,.8); transition: filter .15s, transform .1s; }
.call:hover { filter: brightness(1.06); }
.call:active { transform: scale(.97); }
.call:disabled { opacity: .6; cursor: progress; }
svg { width: 20px; height: 20px; flex: none; }
.fill { fill: currentColor; stroke: none; }
.line { fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }
.info { display: grid; padding-left: 12px; min-width: 120px; }
.who { font-weight: 700; font-size: 14px; }
.state { font-size: 13px; color: #64748b; font-variant-numeric: tabular-nums; }
.round { display: grid; place-items: center; width: 44px; height: 44px; border-radius: 50%; }
.mute { background: #f1f5f9; color: #334155; }
.mute[aria-pressed="true"] { background: #0f172a; color: #fff; }
.hangup { background: linear-gradient(160deg, #ef4444, #dc2626); color: #fff; }
.error { display: block; max-width: 320px; margin-top: 6px; font-size: 13px; color: #b91c1c; }
@media (prefers-color-scheme: dark) {
  :host { color: #e2e8f0; }
  .box:not(.idle) { background: #131a2e; border-color: rgba(255,255,255,.08); }
  .mute { background: #1b2440; color: #cbd5e1; }
  .state { color: #94a3b8; }
  .error { color: #fca5a5; }
}
`;
