// History routing on a signal: every page has its own URL, a deep link reloads into the same page,
// and links are plain <a href> (keyboard, middle-click and copy-link work) intercepted for same-origin
// navigation.
import { signal } from "@preact/signals";

export const location$ = signal({ path: window.location.pathname, query: new URLSearchParams(window.location.search) });

function sync(): void {
  location$.value = { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

window.addEventListener("popstate", sync);

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  sync();
  window.scrollTo(0, 0);
}

/** Intercepts clicks on same-origin links without a modifier key. */
document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.("a");
  if (!a || a.target || a.hasAttribute("download") || a.origin !== window.location.origin) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
});

/** Matches "/agents/:id" against a path; returns the params or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split("/").filter(Boolean);
  const s = path.split("/").filter(Boolean);
  if (p.length !== s.length) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]!;
    if (seg.startsWith(":")) out[seg.slice(1)] = decodeURIComponent(s[i]!);
    else if (seg !== s[i]) return undefined;
  }
  return out;
}
