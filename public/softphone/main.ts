/** Entry point of the softphone page (bundled to public/build/softphone.js by scripts/build-public.ts). */
import { SoftphoneApp } from './app.ts';
import { installHook } from './hook.ts';
import type { StorageLike } from './settings.ts';

/** localStorage, or a page-lifetime stand-in where storage is blocked (sandboxed frames, some private modes). */
function pageStorage(): StorageLike {
  try {
    const probe = '__softphone_probe__';
    localStorage.setItem(probe, '1');
    localStorage.removeItem(probe);
    return localStorage;
  } catch {
    const map = new Map<string, string>();
    const memory: StorageLike = {
      getItem: (key) => map.get(key) ?? null,
      setItem: (key, value) => void map.set(key, value),
      removeItem: (key) => void map.delete(key),
    };
    return memory;
  }
}

const app = new SoftphoneApp(pageStorage());
installHook(window, app);
