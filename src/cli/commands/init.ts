/**
 * `bext init [dir] [--force]`: scaffold a commented bext.config.toml and public/index.html, and
 * make sure .gitignore lists `.bext/` (added to an existing .gitignore, never replacing it).
 * Existing files are never overwritten without --force; nothing is written if any would be.
 * Inside a folder an existing site's config already covers, it warns: the new config would take
 * over every bext command run below it.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BextError } from '../../errors.js';
import { DEFAULT_CONFIG_FILE, displayPath, findConfigFile } from '../../config/index.js';
import { CONFIG_TEMPLATE, GITIGNORE, GITIGNORE_LINE, INDEX_HTML } from '../../config/template.js';

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
  const outer = findConfigFile(path.dirname(target));
  if (outer !== null) {
    process.stderr.write(
      `bext: warning: ${displayPath(outer)} already configures a site around ${displayPath(target) || '.'}; ` +
        'this makes a second site inside it, and bext commands run in here will use the new config\n' +
        `  to work on the existing site instead, run bext in ${displayPath(path.dirname(outer)) || '.'} (or pass -c ${displayPath(outer)})\n`,
    );
  }
  for (const f of files) {
    mkdirSync(path.dirname(f.file), { recursive: true });
    const replaced = existsSync(f.file);
    writeFileSync(f.file, f.text);
    process.stdout.write(`${replaced ? 'replaced' : 'wrote'}  ${displayPath(f.file)}\n`);
  }
  ignoreState(path.join(target, '.gitignore'));
  const rel = path.relative(process.cwd(), target);
  const cd = rel === '' ? '' : `cd ${/[\s'"$`\\]/.test(rel) ? JSON.stringify(rel) : rel} && `;
  process.stdout.write(
    `\nNext:\n  ${cd}bext dev              serve public/ on http://127.0.0.1:3000\n` +
      `  ${cd}bext config check     validate the config after you edit it\n`,
  );
  return 0;
}

/** Writes a .gitignore with `.bext/`, or adds the line to one that lacks it. */
function ignoreState(file: string): void {
  if (!existsSync(file)) {
    writeFileSync(file, GITIGNORE);
    process.stdout.write(`wrote  ${displayPath(file)}\n`);
    return;
  }
  const text = readFileSync(file, 'utf8');
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines.some((l) => l === GITIGNORE_LINE || l === '.bext' || l === '/.bext/' || l === '/.bext')) return;
  appendFileSync(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}${GITIGNORE}`);
  process.stdout.write(`added  ${GITIGNORE_LINE} to ${displayPath(file)}\n`);
}
