/**
 * `bext init [dir] [--force]`: scaffold a commented bext.config.toml and public/index.html.
 * Existing files are never overwritten without --force; nothing is written if any would be.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BextError } from '../../errors.js';
import { DEFAULT_CONFIG_FILE, displayPath } from '../../config/index.js';
import { CONFIG_TEMPLATE, INDEX_HTML } from '../../config/template.js';

export interface InitOptions {
  force?: boolean;
}

export async function run(dir: string | undefined, opts: InitOptions = {}): Promise<number> {
  const target = path.resolve(dir ?? '.');
  if (existsSync(target) && !statSync(target).isDirectory()) {
    throw new BextError('init_target', `cannot initialise ${displayPath(target)}: it is a file, not a folder`);
  }
  const files = [
    { file: path.join(target, DEFAULT_CONFIG_FILE), text: CONFIG_TEMPLATE },
    { file: path.join(target, 'public', 'index.html'), text: INDEX_HTML },
  ];
  const existing = files.filter((f) => existsSync(f.file));
  if (existing.length > 0 && !opts.force) {
    throw new BextError('init_exists', `not overwriting existing file${existing.length === 1 ? '' : 's'} (use --force to replace)`, {
      details: existing.map((f) => `  ${displayPath(f.file)}`),
    });
  }
  for (const f of files) {
    mkdirSync(path.dirname(f.file), { recursive: true });
    const replaced = existsSync(f.file);
    writeFileSync(f.file, f.text);
    process.stdout.write(`${replaced ? 'replaced' : 'wrote'}  ${displayPath(f.file)}\n`);
  }
  const rel = path.relative(process.cwd(), target);
  const cd = rel === '' ? '' : `cd ${/[\s'"$`\\]/.test(rel) ? JSON.stringify(rel) : rel} && `;
  process.stdout.write(
    `\nNext:\n  ${cd}bext dev              serve public/ on http://127.0.0.1:3000\n` +
      `  ${cd}bext config check     validate the config after you edit it\n`,
  );
  return 0;
}
