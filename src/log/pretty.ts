/**
 * Log lines for a terminal, one per log call:
 *
 *   12:01:03 my-analytics  info  Analytics endpoint: https://analytics.example.com/ingest
 *
 * local time, who is talking (the plugin, or `bext`) in a padded column, the level (coloured
 * unless colour is off), the message, then any other fields as `key=value`. Control characters
 * are shown escaped, so a guest cannot break the one-line shape or drive the terminal.
 */

export interface PrettyOptions {
  colour: boolean;
  /** Width of the name column (the longest plugin name known so far). */
  nameWidth: number;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const LEVEL_COLOURS: Record<string, string> = { trace: '90', debug: '34', info: '32', warn: '33', error: '31', fatal: '35' };
/** Fields every line has, shown in the fixed columns rather than as `key=value`. */
const FIXED = new Set(['level', 'time', 'msg', 'plugin', 'source']);

const paint = (on: boolean, code: string, s: string): string => (on ? `\x1b[${code}m${s}\x1b[39;22m` : s);

// C0 and C1 controls and DEL; a tab stays a tab.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/** Control characters as visible escapes: "\n", "\r", "\x1b"... */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

function clock(time: unknown): string {
  const d = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  const t = Number.isNaN(d.getTime()) ? new Date() : d;
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}`;
}

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return v === '' || /\s|"|=/.test(v) ? JSON.stringify(v) : v;
  if (v !== null && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') {
    return JSON.stringify((v as { message: string }).message);
  }
  return JSON.stringify(v) ?? String(v);
}

/** One record (as pino writes it, parsed) → one terminal line, with its newline. */
export function prettyLine(rec: Record<string, unknown>, opts: PrettyOptions): string {
  const level = LEVEL_NAMES[rec.level as number] ?? String(rec.level ?? 'info');
  const name = typeof rec.plugin === 'string' ? rec.plugin : 'bext';
  const c = opts.colour;
  let out = `${paint(c, '2', clock(rec.time))} ${paint(c, name === 'bext' ? '2' : '36', escapeControl(name).padEnd(opts.nameWidth))}  `;
  out += `${paint(c, LEVEL_COLOURS[level] ?? '39', level.padEnd(5))} `;
  const source = rec.source;
  if (source === 'stdout' || source === 'stderr') out += paint(c, '2', `${source} `);
  out += escapeControl(typeof rec.msg === 'string' ? rec.msg : '');
  const extras: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (FIXED.has(k) || v === undefined) continue;
    extras.push(`${k}=${fieldValue(v)}`);
  }
  if (extras.length > 0) out += ' ' + paint(c, '2', escapeControl(extras.join(' ')));
  return out + '\n';
}
