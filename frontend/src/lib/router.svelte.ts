// A small history-API router. The Go server answers every non-/api path with index.html.

export type QueryPatch = Record<string, string | number | null | undefined>;

class Router {
  path = $state('/');
  search = $state('');

  constructor() {
    if (typeof window !== 'undefined') {
      this.sync();
      window.addEventListener('popstate', () => this.sync());
    }
  }

  private sync() {
    this.path = normalize(window.location.pathname);
    this.search = window.location.search;
  }

  /** The current query string, parsed. */
  get query(): URLSearchParams {
    return new URLSearchParams(this.search);
  }

  navigate(to: string, opts: { replace?: boolean } = {}) {
    const u = new URL(to, window.location.href);
    const target = u.pathname + u.search + u.hash;
    const samePath = normalize(u.pathname) === this.path;
    if (target !== window.location.pathname + window.location.search + window.location.hash) {
      if (opts.replace) window.history.replaceState(null, '', target);
      else window.history.pushState(null, '', target);
    }
    this.sync();
    if (!samePath) window.scrollTo(0, 0);
  }

  /** Sets or removes query parameters (empty values remove), keeping the others. */
  updateQuery(patch: QueryPatch, opts: { replace?: boolean } = {}) {
    const q = this.query;
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined || v === null || v === '') q.delete(k);
      else q.set(k, String(v));
    }
    const s = q.toString();
    this.navigate(this.path + (s ? `?${s}` : ''), opts);
  }
}

function normalize(p: string): string {
  if (p.length > 1 && p.endsWith('/')) return p.slice(0, -1);
  return p || '/';
}

export const router = new Router();

/** Makes same-origin <a href> clicks navigate without a reload (but not /api links or downloads). */
export function interceptLinks(e: MouseEvent) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || !a.href || a.hasAttribute('download') || (a.target && a.target !== '_self')) return;
  if (a.getAttribute('rel')?.includes('external')) return;
  const u = new URL(a.href);
  if (u.origin !== window.location.origin || u.pathname.startsWith('/api/')) return;
  // A link to a place on this page: the browser scrolls there itself.
  if (u.hash && u.pathname === window.location.pathname && u.search === window.location.search) return;
  e.preventDefault();
  router.navigate(u.pathname + u.search + u.hash);
}
