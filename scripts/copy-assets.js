// Copies what tsc does not emit into dist/: the dashboard's HTML, script and stylesheet
// (src/server/dashboard/ → dist/server/dashboard/). Part of `npm run build`, `prepare` and `test`.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ASSETS = [['src/server/dashboard', 'dist/server/dashboard']];

for (const [from, to] of ASSETS) {
  mkdirSync(path.join(root, to), { recursive: true });
  for (const name of readdirSync(path.join(root, from))) {
    if (/\.(html|js|css)$/.test(name)) copyFileSync(path.join(root, from, name), path.join(root, to, name));
  }
}
