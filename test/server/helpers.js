// Shared helpers for the dev-server tests: temp sites, WAT plugins, and a running `bext dev`
// (./dev.js, for the files that need no WAT).
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { wat } from '../helpers/wasm.js';

export { makeProject, writeConfig, startDev, sleep, rawRequest } from './dev.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/server');

/** wasm bytes of a fixture; recorder.wat takes a two-letter tag. */
export function fixtureWasm(name, tag = 'v1') {
  const text = readFileSync(path.join(FIXTURES, name), 'utf8').replaceAll('__TAG__', tag);
  return wat(text);
}

export function writePlugin(dir, file, name = 'recorder.wat', tag = 'v1') {
  const p = path.join(dir, 'plugins', file);
  writeFileSync(p, fixtureWasm(name, tag));
  return p;
}

