/**
 * The browser side of live reload, served at `/__bext/live-reload.js` and loaded by the tag
 * injected into HTML pages. An external script rather than inline code, so that a page whose
 * Content-Security-Policy allows only its own origin's scripts still runs it.
 *
 * It listens on `/__bext/live-reload`: a `change` event reloads the page, or, when only
 * stylesheets changed, swaps the page's same-origin `<link rel=stylesheet>` elements for fresh
 * copies (no reload, scroll position and form input stay). A `hello` naming another server
 * instance than the first one seen means bext restarted meanwhile, so the page reloads too.
 * All tabs share one stream through a SharedWorker running this same file (where SharedWorker
 * is missing or refused, each page opens its own). A refused stream (live reload off, a client
 * that is not loopback) is an HTTP error, after which EventSource stops on its own.
 * `window.__bextLiveReload` shows the state: `server` is set once the stream is open.
 */
export const LIVE_RELOAD_STREAM = '/__bext/live-reload';
export const LIVE_RELOAD_SCRIPT = '/__bext/live-reload.js';

/** The tag injected into pages. */
export const LIVE_RELOAD_TAG = `<script src="${LIVE_RELOAD_SCRIPT}" defer></script>`;

export const LIVE_RELOAD_CLIENT = `// bext dev: live reload (docs/dev-server.md#browser-live-reload)
(() => {
  const STREAM = ${JSON.stringify(LIVE_RELOAD_STREAM)};
  if (typeof window === 'undefined') {
    // The shared worker: one event stream for every tab of this origin, relayed to each of them.
    const ports = new Set();
    let hello = null;
    const relay = (msg) => ports.forEach((p) => p.postMessage(msg));
    const source = new EventSource(STREAM);
    source.addEventListener('hello', (e) => relay((hello = { type: 'hello', data: e.data })));
    source.addEventListener('change', (e) => relay({ type: 'change', data: e.data }));
    self.onconnect = (e) => {
      const port = e.ports[0];
      ports.add(port);
      port.onmessage = (m) => m.data === 'bye' && ports.delete(port);
      if (hello) port.postMessage(hello);
    };
    return;
  }
  if (window.__bextLiveReload || typeof EventSource !== 'function') return;
  const state = (window.__bextLiveReload = { server: null, via: null });
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
  const handle = (type, data) => {
    let msg = {};
    try { msg = JSON.parse(data); } catch {}
    if (type === 'hello') {
      // Another server than the first one seen: bext restarted, the page may be out of date.
      if (state.server !== null && msg.server !== state.server) location.reload();
      state.server = msg.server;
    } else if (type === 'change') {
      if (msg.kind === 'css' && swapStyles()) return;
      location.reload();
    }
  };
  try {
    // Browsers allow about six connections per host over HTTP/1.1; one stream per tab would use
    // them up with a few tabs open, so the tabs share one.
    const worker = new SharedWorker(${JSON.stringify(LIVE_RELOAD_SCRIPT)}, { name: 'bext-live-reload' });
    worker.port.onmessage = (e) => handle(e.data.type, e.data.data);
    addEventListener('pagehide', () => worker.port.postMessage('bye'));
    state.via = 'shared-worker';
  } catch {
    const source = new EventSource(STREAM);
    source.addEventListener('hello', (e) => handle('hello', e.data));
    source.addEventListener('change', (e) => handle('change', e.data));
    state.via = 'event-source';
  }
})();
`;
