/**
 * The dashboard's files (src/server/dashboard/*, copied next to this module into dist by
 * `npm run build`; scripts/copy-assets.js). Plain HTML, one ES module and one stylesheet: no
 * framework, no build step, nothing fetched from elsewhere, so the page works offline.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { packagePath } from '../package.js';

export interface DashboardAsset {
  type: string;
  body: Buffer;
}

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};

/** Folder of the assets in the installed package (dist/server/dashboard/, whether bext runs bundled or not). */
export const DASHBOARD_DIR = pathToFileURL(`${packagePath('dist', 'server', 'dashboard')}/`);

/** One of the known assets, read from disk each time (a few KB on loopback); null when missing. */
export function dashboardAsset(name: string, dir: URL = DASHBOARD_DIR): DashboardAsset | null {
  const type = TYPES[name];
  if (!type) return null;
  try {
    return { type, body: readFileSync(new URL(name, dir)) };
  } catch {
    return null;
  }
}

/** The dashboard page as served: one response, nothing else to fetch before the first draw. */
export interface DashboardPage {
  body: Buffer;
  /** Hashes of the inlined script and style, for the page's Content-Security-Policy. */
  scriptHash: string;
  styleHash: string;
}

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * index.html with the stylesheet and the script inlined and the first view embedded as a JSON
 * data block: the browser draws after one round trip instead of three (page → assets → data).
 * The inlined code is allowed by hash, so the CSP stays as strict as with the separate files.
 * Guest-controlled strings (plugin names, trap messages) sit in the data block: every `<` is
 * escaped so nothing in them can close the element.
 */
export function dashboardPage(initial: unknown, asset: (name: string) => DashboardAsset | null = dashboardAsset): DashboardPage | null {
  const html = asset('index.html');
  const css = asset('dashboard.css');
  const js = asset('dashboard.js');
  if (!html || !css || !js) return null;
  const style = css.body.toString('utf8');
  const script = js.body.toString('utf8');
  const data = JSON.stringify(initial).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  const page = html.body
    .toString('utf8')
    .replace(/<link rel="stylesheet" href="[^"]*dashboard\.css">/, () => `<style>${style}</style>`)
    .replace(
      /<script type="module" src="[^"]*dashboard\.js"><\/script>/,
      () => `<script type="application/json" id="initial-view">${data}</script>\n<script type="module">${script}</script>`,
    );
  return { body: Buffer.from(page), scriptHash: sha256(script), styleHash: sha256(style) };
}
