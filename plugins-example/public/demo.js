/* global document, location */
// The demo pages' live parts: the URLs this run really uses (plugins-example/start.js writes
// demo.json; without it, the page's own address), and on /expensive/ and /crash/ what greedy's
// last call did, from bext's admin API. Plain script, no build step.
const site = location.origin;

async function json(url) {
  const r = await fetch(url, { headers: { accept: 'application/json' } });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

async function fillUrls() {
  let urls = {};
  try {
    urls = await json('/demo.json');
  } catch {
    // Run without npm start: only the site's own address is known.
  }
  const values = { site, host: location.host, collector: urls.collector ?? 'the collector (see the terminal)', config: urls.config ?? 'plugins-example/bext.config.toml' };
  for (const el of document.querySelectorAll('[data-live]')) {
    // data-live holds the template; the element's own text is what shows without JavaScript.
    el.textContent = el.dataset.live.replace(/\{(\w+)\}/g, (m, k) => values[k] ?? m);
  }
}

/** On /expensive/ and /crash/: greedy's counts and its last failure, once the hook has run. */
async function showGreedy(box) {
  const want = box.dataset.outcome;
  for (let tries = 0; tries < 20; tries++) {
    let s;
    try {
      const body = await json('/__bext/stats/greedy');
      s = body.plugins?.greedy ?? body;
    } catch (e) {
      box.textContent = `Could not read bext's stats (${e.message}); the admin API answers loopback addresses only.`;
      return;
    }
    const h = (s.hooks ?? []).find((x) => x.hook === 'on_request_complete');
    if (h && (h.outcomes?.[want] ?? 0) > 0) {
      const o = h.outcomes;
      const f = h.lastFailure;
      box.textContent =
        `greedy has handled ${h.calls} requests: ${o.ok ?? 0} ok, ${o.out_of_fuel ?? 0} out of fuel, ${o.trap ?? 0} trapped.` +
        (f ? ` Its last failure: ${f.outcome.replaceAll('_', ' ')}${f.message ? ` (${f.message})` : ''}.` : '');
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  box.textContent = 'greedy has not reported this call yet; reload the page, or run the stats command below.';
}

async function dashboardLink() {
  const links = document.querySelectorAll('[data-dashboard]');
  if (links.length === 0) return;
  try {
    const r = await fetch('/__bext/', { headers: { accept: 'text/html' } });
    if (r.ok && (r.headers.get('content-type') ?? '').includes('text/html')) for (const a of links) a.hidden = false;
  } catch {
    // no dashboard in this bext: the link stays hidden
  }
}

fillUrls();
dashboardLink();
const box = document.querySelector('[data-greedy]');
if (box) showGreedy(box);
