// The bext dashboard: draws GET /__bext/dashboard (refreshed every few seconds and after each
// load or failure), streams GET /__bext/events, and runs actions through the admin API with JSON
// bodies (same origin, so the admin guard lets them through). Every value from the server is put
// in the page as text (textContent), never as markup: plugin messages are the guest's words.
const API = '/__bext/';
const REFRESH_MS = 2000;
const LIVE_MAX = 300;
/** Failures listed on the page (the API keeps more). */
const FAILURES_SHOWN = 20;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** Builds an element: h('td', {class: 'num', 'data-x': 1}, 'text', child...). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false).map((c) => (typeof c === 'object' ? c : String(c))));
  return el;
}

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAttrs(el, attrs);
  el.append(...children.flat().filter(Boolean));
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, String(v));
  }
}

const num = (n) => Math.round(n).toLocaleString('en-US');
const pct = (p) => (p > 0 && p < 0.05 ? '<0.1%' : `${p.toFixed(1)}%`);
const share = (v, budget) => (budget > 0 ? (v / budget) * 100 : 0);
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });
const stamp = (ms) => new Date(ms).toLocaleString([], { hour12: false });

function duration(us) {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1048576).toFixed(1)} MB`;
}

// ---- data --------------------------------------------------------------------------------------

let view = null;
let refreshTimer = null;

async function refresh() {
  clearTimeout(refreshTimer);
  try {
    const res = await fetch(`${API}dashboard`, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    view = await res.json();
    render(view);
  } catch (err) {
    setConn('down', `dashboard data unavailable: ${err.message}`);
  } finally {
    refreshTimer = setTimeout(refresh, REFRESH_MS);
  }
}

let soon = null;
/** A refresh shortly after something changed (several events in a row make one request). */
function refreshSoon() {
  if (soon) return;
  soon = setTimeout(() => {
    soon = null;
    refresh();
  }, 150);
}

async function post(path, body = {}) {
  const res = await fetch(API + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  let data = null;
  try {
    data = await res.json();
  } catch {
    // not JSON: reported by status below
  }
  if (!res.ok && !(data && 'ok' in data)) throw new Error((data && data.error) || `HTTP ${res.status}`);
  return data;
}

// ---- rendering -----------------------------------------------------------------------------------

function render(v) {
  document.getElementById('server').textContent = `${v.server.url} · pid ${v.server.pid} · up since ${stamp(v.server.startedAt)}`;
  renderPlugins(v.plugins);
  renderHooks(v.plugins);
  renderFailures(v.failures);
  fillPluginSelect(document.getElementById('live-plugin'), v.plugins, 'all');
  fillPluginSelect(document.getElementById('reset-plugin'), v.plugins, 'all plugins');
}

function fillPluginSelect(sel, plugins, allLabel) {
  const names = plugins.map((p) => p.name);
  const have = [...sel.options].slice(1).map((o) => o.value);
  if (have.join('\n') === names.join('\n')) return;
  const keep = sel.value;
  sel.replaceChildren(h('option', { value: '' }, allLabel), ...names.map((n) => h('option', { value: n }, n)));
  sel.value = names.includes(keep) ? keep : '';
}

function stateBadge(p) {
  const stale = String(p.error ?? '').startsWith('the build failed') ? 'stale (build failed)' : 'stale (reload failed)';
  const label = p.state === 'stale' ? stale : p.state;
  return h('span', { class: `badge state-${p.state}`, 'data-role': 'state' }, label);
}

let pluginsDrawn = '';

function renderPlugins(plugins) {
  // Redrawn only when something in it changed, so a button is not replaced under the pointer.
  const key = JSON.stringify(plugins.map((p) => [p.name, p.path, p.state, p.error, p.current?.version, p.priority, p.hooks, p.budgets, p.queue]));
  if (key === pluginsDrawn) return;
  pluginsDrawn = key;
  const rows = [];
  if (plugins.length === 0) rows.push(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'no plugins configured')));
  for (const p of plugins) {
    const v = p.current?.version;
    const lang = v?.language;
    rows.push(
      h(
        'tr',
        { 'data-plugin': p.name, 'data-state': p.state },
        h('td', {}, h('strong', {}, p.name), h('div', { class: 'muted mono' }, p.path)),
        h('td', { 'data-label': 'Language', title: lang ? lang.evidence : '' }, lang ? lang.language : '—'),
        h(
          'td',
          { 'data-label': 'State' },
          stateBadge(p),
          p.error ? h('pre', { class: 'error-text', 'data-role': 'error' }, p.error) : null,
        ),
        h('td', { class: 'mono', 'data-label': 'Version' }, v ? [h('span', { 'data-role': 'hash' }, v.hash), h('div', { class: 'muted' }, `loaded ${stamp(v.loadedAt)}`)] : '—'),
        h('td', { class: 'num', 'data-label': 'Priority' }, p.priority),
        h(
          'td',
          { 'data-label': 'Hooks' },
          p.hooks.length
            ? h('ul', { class: 'hooks-list' }, p.hooks.map((hk) => h('li', {}, h('code', {}, hk), ' ', h('span', { class: 'muted' }, num(p.budgets[hk])))))
            : h('span', { class: 'muted' }, p.state === 'loaded' || p.state === 'stale' ? 'no hooks exported' : '—'),
        ),
        h('td', { class: 'num', 'data-label': 'Queue' }, `${num(p.queue.pending)} pending`, p.queue.dropped ? h('div', { class: 'error-text' }, `${num(p.queue.dropped)} dropped`) : null),
        h(
          'td',
          {},
          p.state === 'disabled'
            ? null
            : h('button', { type: 'button', 'data-action': 'reload', 'data-plugin': p.name, title: `reload ${p.name} from its file` }, 'Reload'),
        ),
      ),
    );
  }
  document.getElementById('plugin-rows').replaceChildren(...rows);
}

/**
 * Fuel p50/p99/max as bars on one scale where the dashed line is the budget (100%). Drawn by
 * hand: three bars and a line per hook need no chart library.
 */
function fuelChart(fuel) {
  const W = 300;
  const ROW = 16;
  const LABEL = 34;
  const VALUE = 72;
  const track = W - LABEL - VALUE;
  const rows = [
    ['p50', share(fuel.p50, fuel.budget)],
    ['p99', share(fuel.p99, fuel.budget)],
    ['max', fuel.maxPctOfBudget],
  ];
  const top = Math.max(100, ...rows.map((r) => r[1]));
  const x = (p) => LABEL + (Math.min(p, top) / top) * track;
  const height = rows.length * ROW + 2;
  const parts = [s('title', { text: `fuel as a share of the ${num(fuel.budget)} budget: ${rows.map(([k, p]) => `${k} ${pct(p)}`).join(', ')}` })];
  rows.forEach(([k, p], i) => {
    const y = i * ROW + 2;
    parts.push(s('text', { x: 0, y: y + 10, text: k }));
    parts.push(s('rect', { class: 'track', x: LABEL, y, width: track, height: ROW - 5, rx: 2 }));
    parts.push(s('rect', { class: p > 80 ? 'bar hot' : 'bar', x: LABEL, y, width: Math.max(p > 0 ? 1 : 0, x(p) - LABEL), height: ROW - 5, rx: 2 }));
    parts.push(s('text', { x: LABEL + track + 6, y: y + 10, text: pct(p) }));
  });
  parts.push(s('line', { class: 'budget', x1: x(100), x2: x(100), y1: 0, y2: height }));
  return s('svg', { class: 'chart', width: W, height, viewBox: `0 0 ${W} ${height}`, role: 'img', 'data-role': 'fuel-chart' }, parts);
}

function sparkline(counts) {
  if (!counts) return h('span', { class: 'muted' }, '—');
  const W = 120;
  const H = 24;
  const max = Math.max(1, ...counts);
  const pts = counts.map((c, i) => `${((i / (counts.length - 1)) * W).toFixed(1)},${(H - 1 - (c / max) * (H - 3)).toFixed(1)}`).join(' ');
  const total = counts.reduce((a, b) => a + b, 0);
  return s('svg', { class: 'spark', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img' }, s('title', { text: `${num(total)} calls in the last hour, peak ${num(max)}/min` }), s('polyline', { points: pts }));
}

function outcomes(hk) {
  const shown = Object.entries(hk.outcomes).filter(([k, n]) => n > 0 || k === 'ok');
  return h(
    'div',
    { class: 'outcomes' },
    shown.map(([k, n]) => h('span', { class: `outcome-${k}`, 'data-outcome': k }, `${k.replace(/_/g, ' ')} ${num(n)}`)),
    hk.dropped ? h('span', { class: 'error-text' }, `dropped ${num(hk.dropped)}`) : null,
  );
}

function hookRow(hk, timeline) {
  return h(
    'div',
    { class: 'hook-row', 'data-hook': hk.hook },
    h('div', {}, h('code', {}, hk.hook), h('div', { class: 'label' }, `${num(hk.calls)} calls · budget ${num(hk.fuel.budget)}`)),
    outcomes(hk),
    hk.calls > 0 ? fuelChart(hk.fuel) : h('span', { class: 'muted' }, 'no calls'),
    h('div', {}, h('div', { class: 'label' }, 'wall p50 / p99'), `${duration(hk.timeUs.p50)} / ${duration(hk.timeUs.p99)}`),
    timeline === undefined ? h('span') : h('div', {}, h('div', { class: 'label' }, 'calls/min, last hour'), sparkline(timeline)),
  );
}

/**
 * Before a redraw, notes which of `shown` (<details> with a data-key) are open in `keys`. The page
 * is the record, not 'toggle' events: a click opens a <details> at once, but its 'toggle' event
 * comes a task later, after a redraw falling in between has already replaced it with a closed one.
 * Failures can share a key (the same failure twice in one millisecond): open if any of them is.
 */
function rememberOpen(shown, keys) {
  for (const d of shown) keys.delete(d.dataset.key);
  for (const d of shown) if (d.open) keys.add(d.dataset.key);
}

/** Keys of the previous versions shown open: kept across redraws. */
const openPrevious = new Set();

function renderHooks(plugins) {
  rememberOpen(document.querySelectorAll('#hook-cards details[data-role="previous-version"]'), openPrevious);
  const cards = [];
  for (const p of plugins) {
    if (!p.current && p.previous.length === 0) continue;
    const cur = p.current;
    const body = [];
    if (cur && cur.hooks.length) body.push(...cur.hooks.map((hk) => hookRow(hk, p.timeline[hk.hook])));
    else body.push(h('p', { class: 'muted' }, 'no calls since this version was loaded'));
    for (const prev of p.previous) {
      const key = `${p.name}@${prev.version.seq}`;
      const d = h(
        'details',
        { class: 'previous', 'data-key': key, 'data-role': 'previous-version' },
        h(
          'summary',
          {},
          h('span', { class: 'tag' }, 'previous version '),
          h('code', {}, prev.version.hash),
          ` · loaded ${stamp(prev.version.loadedAt)}, replaced ${stamp(prev.replacedAt)} (${prev.change})`,
        ),
        prev.hooks.map((hk) => hookRow(hk, undefined)),
      );
      if (openPrevious.has(key)) d.open = true;
      body.push(d);
    }
    cards.push(
      h(
        'article',
        { class: 'card', 'data-plugin': p.name },
        h('h3', {}, p.name, ' ', cur ? h('span', { class: 'muted mono' }, `version ${cur.version.hash} · since ${clock(cur.version.loadedAt)}`) : null),
        body,
      ),
    );
  }
  const root = document.getElementById('hook-cards');
  root.replaceChildren(...(cards.length ? cards : [h('p', { class: 'muted' }, 'no hook calls yet')]));
}

/** Keys of the failures whose stack is open: kept across redraws. */
const openFailures = new Set();

function renderFailures(list) {
  const root = document.getElementById('failure-list');
  rememberOpen(root.querySelectorAll('details[data-role="stack"]'), openFailures);
  if (list.length === 0) {
    root.replaceChildren(h('li', { class: 'muted' }, 'none yet'));
    return;
  }
  root.replaceChildren(
    ...list.slice(0, FAILURES_SHOWN).map((f) => {
      const key = `${f.at}|${f.plugin}|${f.hook}|${f.message}`;
      const stack = f.stack.length
        ? h('details', { 'data-role': 'stack', 'data-key': key }, h('summary', {}, `stack (${f.stack.length} frame${f.stack.length === 1 ? '' : 's'})`), h('pre', {}, f.stack.join('\n')))
        : null;
      if (stack && openFailures.has(key)) stack.open = true;
      return h(
        'li',
        { 'data-plugin': f.plugin, 'data-outcome': f.outcome },
        h(
          'div',
          { class: 'head' },
          h('span', { class: 'mono' }, stamp(f.at)),
          h('strong', {}, f.plugin),
          h('code', {}, f.hook),
          h('span', { class: `badge outcome-${f.outcome}` }, f.outcome.replace(/_/g, ' ') + (f.trapKind && f.outcome === 'trap' ? ` (${f.trapKind})` : '')),
          h('span', { class: 'muted' }, `input ${bytes(f.inputBytes)} · fuel ${num(f.fuelUsed)} of ${num(f.budget)} · ${duration(f.wallUs)} · version ${f.version}`),
        ),
        h('pre', { 'data-role': 'message' }, f.message || '(no message)'),
        stack,
      );
    }),
  );
}

// ---- live ------------------------------------------------------------------------------------

let paused = false;
let heldWhilePaused = [];

function levelOf(type, data) {
  if (type === 'log') return data.level;
  if (type === 'failure' || type === 'load_failed') return 'error';
  if (type === 'skipped') return 'warn';
  return 'info';
}

function liveText(type, d) {
  switch (type) {
    case 'call':
      return `${d.hook} ok · fuel ${num(d.fuelUsed)} (${pct(share(d.fuelUsed, d.budget))}) · ${duration(d.wallUs)}`;
    case 'failure':
      return `${d.hook} ${d.outcome.replace(/_/g, ' ')}: ${d.message}`;
    case 'load':
      return d.same ? `reloaded, same version ${d.hash}` : `loaded version ${d.hash}`;
    case 'load_failed':
      return d.stillServing ? `reload failed, version ${d.stillServing} keeps serving: ${d.error}` : `failed to load: ${d.error}`;
    case 'skipped':
      return d.calls ? `${num(d.calls)} more calls not listed (${d.reason})` : `${num(d.events)} events not shown (${d.reason})`;
    case 'reset':
      return `stats reset for ${d.plugin ?? 'all plugins'}`;
    default:
      return [d.source && d.source !== 'guest' ? `[${d.source}]` : '', d.msg].filter(Boolean).join(' ');
  }
}

function wanted(type, data) {
  const plugin = document.getElementById('live-plugin').value;
  if (plugin && data.plugin !== plugin) return false;
  if (type === 'call' && !document.getElementById('live-calls').checked) return false;
  const min = LEVELS.indexOf(document.getElementById('live-level').value);
  return LEVELS.indexOf(levelOf(type, data)) >= min;
}

function addLive(type, data) {
  if (!wanted(type, data)) return;
  if (paused) {
    heldWhilePaused.push([type, data]);
    if (heldWhilePaused.length > LIVE_MAX) heldWhilePaused.shift();
    document.getElementById('live-note').textContent = `paused · ${heldWhilePaused.length} new`;
    return;
  }
  const level = levelOf(type, data);
  const list = document.getElementById('live-list');
  list.prepend(
    h(
      'li',
      { class: `level-${level}`, 'data-type': type, 'data-plugin': data.plugin ?? '' },
      h('span', {}, clock(data.at)),
      h('span', { class: 'pl' }, data.plugin ?? ''),
      h('span', { class: 'lv' }, type === 'log' ? level : type.replace('_', ' ')),
      h('span', {}, liveText(type, data)),
    ),
  );
  while (list.children.length > LIVE_MAX) list.lastElementChild.remove();
}

function setConn(state, text) {
  const el = document.getElementById('conn');
  el.dataset.state = state;
  el.textContent = text;
}

function connect() {
  const es = new EventSource(`${API}events`);
  es.onopen = () => setConn('live', '● live');
  es.onerror = () => setConn('down', 'disconnected, retrying…');
  for (const type of ['call', 'failure', 'load', 'load_failed', 'log', 'skipped', 'reset']) {
    es.addEventListener(type, (ev) => {
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return;
      }
      addLive(type, data);
      if (type !== 'call' && type !== 'log' && type !== 'skipped') refreshSoon();
    });
  }
}

// ---- actions ---------------------------------------------------------------------------------

function say(text, bad = false) {
  const el = document.getElementById('action-result');
  el.textContent = text;
  el.className = bad ? 'error-text' : 'muted';
}

document.addEventListener('click', async (ev) => {
  const btn = ev.target.closest('button[data-action="reload"]');
  if (!btn) return;
  const name = btn.dataset.plugin;
  btn.disabled = true;
  say(`reloading ${name}…`);
  try {
    const r = await post(`plugins/${encodeURIComponent(name)}/reload`);
    say(r.ok ? `${name} reloaded` : `${name}: reload failed: ${r.error}`, !r.ok);
  } catch (err) {
    say(`${name}: ${err.message}`, true);
  } finally {
    btn.disabled = false;
    refresh();
  }
});

document.getElementById('invalidate-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const kind = document.getElementById('invalidate-kind').value;
  const value = document.getElementById('invalidate-value').value.trim();
  try {
    const r = await post('cache/invalidate', { [kind]: value });
    say(`${kind} ${value}: ${num(r.removed)} cache entr${r.removed === 1 ? 'y' : 'ies'} removed`);
  } catch (err) {
    say(err.message, true);
  }
});

document.getElementById('reset-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const plugin = document.getElementById('reset-plugin').value;
  try {
    await post('stats/reset', plugin ? { plugin } : {});
    say(`stats reset for ${plugin || 'all plugins'}`);
    refresh();
  } catch (err) {
    say(err.message, true);
  }
});

document.getElementById('live-pause').addEventListener('click', (ev) => {
  paused = !paused;
  ev.currentTarget.setAttribute('aria-pressed', String(paused));
  ev.currentTarget.textContent = paused ? 'Resume' : 'Pause';
  if (!paused) {
    const held = heldWhilePaused;
    heldWhilePaused = [];
    document.getElementById('live-note').textContent = '';
    for (const [type, data] of held) addLive(type, data);
  }
});

document.getElementById('invalidate-kind').addEventListener('change', (ev) => {
  document.getElementById('invalidate-value').placeholder = ev.target.value === 'tag' ? 'blog' : 'page:/blog/*';
});

// The page arrives with its first view embedded (no request before the first draw); the assets
// fetched on their own (an older page, a test) start with a request instead.
const embedded = document.getElementById('initial-view');
if (embedded) {
  try {
    view = JSON.parse(embedded.textContent);
    render(view);
    // For bench/dashboard.bench.js: navigation start → first full draw, measured by the browser.
    performance.mark('bext:first-draw');
  } catch (err) {
    setConn('down', `dashboard data unreadable: ${err.message}`);
  }
  refreshTimer = setTimeout(refresh, REFRESH_MS);
} else {
  refresh();
}
connect();
