/**
 * The browser side of live reload, served at `/__bext/live-reload.js` and loaded by the tag
 * injected into HTML pages. An external script rather than inline code, so that a page whose
 * Content-Security-Policy allows only its own origin's scripts still runs it.
 *
 * It listens on `/__bext/live-reload`: a `change` event reloads the page, or, when only
 * stylesheets changed, swaps the page's same-origin `<link rel=stylesheet>` elements for fresh
 * copies (no reload, scroll position and form input stay). A `hello` naming another server
 * instance than the first one seen means bext restarted meanwhile, so the page reloads too.
 * A refused stream (live reload off, a client that is not loopback) is an HTTP error, after
 * which EventSource stops on its own.
 */
export const LIVE_RELOAD_STREAM = '/__bext/live-reload';
export const LIVE_RELOAD_SCRIPT = '/__bext/live-reload.js';

/** The tag injected into pages. */
export const LIVE_RELOAD_TAG = `<script src="${LIVE_RELOAD_SCRIPT}" defer></script>`;

export const LIVE_RELOAD_CLIENT = `// bext dev: live reload (docs/dev-server.md#browser-live-reload)
(() => {
  if (window.__bextLiveReload || typeof EventSource !== 'function') return;
  window.__bextLiveReload = true;
  let server = null;
  const source = new EventSource(${JSON.stringify(LIVE_RELOAD_STREAM)});
  const swapStyles = () => {
    const links = [...document.querySelectorAll('link[rel~="stylesheet"][href]')].filter(
      (l) => new URL(l.href, location.href).origin === location.origin,
    );
    if (links.length === 0) return false;
    for (const old of links) {
      const url = new URL(old.href, location.href);
      url.searchParams.set('__bext_lr', String(Date.now()));
      const fresh = old.cloneNode();
      fresh.href = url.href;
      // The old sheet stays until the new one has loaded, so the page never flashes unstyled.
      const done = () => old.remove();
      fresh.addEventListener('load', done, { once: true });
      fresh.addEventListener('error', done, { once: true });
      old.after(fresh);
    }
    return true;
  };
  source.addEventListener('hello', (e) => {
    let id = null;
    try { id = JSON.parse(e.data).server; } catch {}
    if (server !== null && id !== server) location.reload();
    server = id;
  });
  source.addEventListener('change', (e) => {
    let kind = 'page';
    try { kind = JSON.parse(e.data).kind; } catch {}
    if (kind === 'css' && swapStyles()) return;
    source.close();
    location.reload();
  });
})();
`;
