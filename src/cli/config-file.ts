/**
 * Which config file a command uses, said once on stderr when it is not the obvious one: without
 * -c, bext walks up from the working folder (src/config findConfigFile), and a file found in a
 * parent folder is named so nobody edits the wrong one.
 */
import path from 'node:path';
import { displayPath } from '../config/index.js';

export function noteConfigFile(flag: string | undefined, cfg: { file: string }): void {
  if (flag !== undefined) return;
  if (path.dirname(cfg.file) === process.cwd()) return;
  process.stderr.write(`bext: using ${displayPath(cfg.file)} (found in a parent folder)\n`);
}
