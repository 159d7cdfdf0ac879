/**
 * Stack traces of internal errors point at src/*.ts although bext runs from the bundle
 * (dist/bundle/, scripts/bundle.js): each frame in a bundled file is looked up in that file's
 * source map. The maps are read only here, when a trace is printed; `--enable-source-maps` would
 * read them on every start (~30 ms of CPU per command).
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FRAME = /(file:\/\/[^\s()]+?\.c?js):(\d+):(\d+)/g;

/** `stack` with every location that has a source map rewritten to its source file, line and column. */
export function sourceStack(stack: string): string {
  const maps = new Map<string, SourceMap | null>();
  return stack.replace(FRAME, (frame: string, url: string, line: string, column: string) => {
    if (!maps.has(url)) maps.set(url, readMap(url));
    const map = maps.get(url);
    if (!map) return frame;
    const at = map.findEntry(Number(line) - 1, Number(column) - 1);
    if (!('originalSource' in at) || !at.originalSource) return frame;
    const source = at.originalSource.startsWith('file:')
      ? fileURLToPath(at.originalSource)
      : path.resolve(path.dirname(fileURLToPath(url)), at.originalSource);
    return `${source}:${at.originalLine + 1}:${at.originalColumn + 1}`;
  });
}

function readMap(url: string): SourceMap | null {
  try {
    return new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8')));
  } catch {
    return null; // no readable map beside the file: the frame stays as it is
  }
}
