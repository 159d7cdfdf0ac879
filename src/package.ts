/**
 * The installed package: its root folder (the one with bext's package.json, beside dist/, sdk/ and
 * docs/) and its version. Found by walking up from this module, so every path bext computes from it
 * is the same whether the code runs module by module from dist/ or from the bundle in dist/bundle/.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface PackageInfo {
  root: string;
  version: string;
}

let found: PackageInfo | null = null;

function find(): PackageInfo {
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = path.dirname(dir)) {
    let text: string | null = null;
    try {
      text = readFileSync(path.join(dir, 'package.json'), 'utf8');
    } catch {
      // no package.json here: keep walking up
    }
    if (text !== null) {
      const pkg = JSON.parse(text) as { name?: string; version?: string };
      if (pkg.name === 'bext') return { root: dir, version: pkg.version ?? '0.0.0' };
    }
    if (path.dirname(dir) === dir) throw new Error(`bext's package.json not found above ${start}`);
  }
}

/** The package's root folder. */
export function packageRoot(): string {
  return (found ??= find()).root;
}

/** bext's version, from its package.json. */
export function packageVersion(): string {
  return (found ??= find()).version;
}

/** A path inside the installed package, e.g. `packagePath('dist', 'server', 'dashboard')`. */
export function packagePath(...parts: string[]): string {
  return path.join(packageRoot(), ...parts);
}
