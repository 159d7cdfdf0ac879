#!/usr/bin/env node
// `npm start`: runs the demo collector and `bext dev` on the example project together.
// Extra arguments go to `bext dev` (e.g. `npm start -- -p 8080`). Ctrl-C stops both.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCollector } from './collector.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(HERE, '..', 'bin', 'bext');

let collector = null;
try {
  collector = await startCollector({ port: 4000 });
  console.log(`[collector] listening on ${collector.url}; my-analytics batches will show up here`);
} catch (e) {
  console.warn(e.code === 'EADDRINUSE'
    ? '[collector] port 4000 is already in use; assuming a collector is running there'
    : `[collector] not started: ${e.message}`);
}

const child = spawn(process.execPath, [BIN, 'dev', '-c', path.join(HERE, 'bext.config.toml'), ...process.argv.slice(2)], {
  stdio: 'inherit',
});

// The terminal sends Ctrl-C to the whole process group; forward other signals explicitly.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { if (child.exitCode === null) child.kill(sig); });
}

child.on('exit', async (code, signal) => {
  if (collector) await collector.close();
  process.exit(code ?? (signal ? 1 : 0));
});
