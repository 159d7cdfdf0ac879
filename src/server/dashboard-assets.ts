/**
 * The dashboard's files (src/server/dashboard/*, copied next to this module into dist by
 * `npm run build`; scripts/copy-assets.js). Plain HTML, one ES module and one stylesheet: no
 * framework, no build step, nothing fetched from elsewhere, so the page works offline.
 */
import { readFileSync } from 'node:fs';

export interface DashboardAsset {
  type: string;
  body: Buffer;
}

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};

/** Folder of the assets beside the compiled module (dist/server/dashboard/). */
export const DASHBOARD_DIR = new URL('./dashboard/', import.meta.url);

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
