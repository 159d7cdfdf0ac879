#!/usr/bin/env node
// `npm start`: runs the demo collector and `bext dev` on the example project together, as one.
//
//   npm start                                  site on 127.0.0.1:3000, collector on :4000
//   npm start -- -p 8080                       site on :8080, collector on :9080 (site port + 1000)
//   npm start -- --host 0.0.0.0 -p 8080        both listen on every interface
//   npm start -- --collector-port 5000         the collector alone elsewhere
//
// -p/--port and --host move the collector too, and every URL that names it: my-analytics'
// endpoint and allowed_urls. So the committed bext.config.toml stays as it is, the run uses a
// copy with the live ports, bext.demo.toml next to it (kept in step when bext.config.toml is
// edited), and public/demo.json tells the pages the live URLs. Other arguments go to `bext dev`.
// Ctrl-C stops both.
import { spawn } from 'node:child_process';
import { readFileSync, watch, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCollector } from './collector.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(HERE, '..', 'bin', 'bext');
const CONFIG = path.join(HERE, 'bext.config.toml');
/** The config the run uses: bext.config.toml with the live ports (git-ignored). */
const RUN_CONFIG = path.join(HERE, 'bext.demo.toml');
/** The live URLs, for the pages (git-ignored). */
const URLS_FILE = path.join(HERE, 'public', 'demo.json');
/** What the committed config says, and what start.js replaces. */
const DEFAULT_PORT = 3000;
const DEFAULT_COLLECTOR = 'http://127.0.0.1:4000';
const COLLECTOR_OFFSET = 1000;

function fail(message) {
  console.error(`npm start: ${message}`);
  process.exit(2);
}

function parsePort(flag, value) {
  const n = Number(value);
  if (value === undefined || !/^\d+$/.test(String(value).trim()) || n > 65535) fail(`${flag} needs a port from 0 to 65535, got ${JSON.stringify(value ?? '')}`);
  return n;
}

/** Splits the arguments into the demo's own (port, host, collector port) and bext dev's. */
function parseArgs(argv) {
  const opts = { port: DEFAULT_PORT, host: '127.0.0.1', collectorPort: undefined, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith('--') && argv[i].includes('=') ? argv[i].split(/=(.*)/s) : [argv[i], undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '-p' || flag === '--port') opts.port = parsePort(flag, value());
    else if (flag === '--host') opts.host = value() ?? fail('--host needs an address');
    else if (flag === '--collector-port') opts.collectorPort = parsePort(flag, value());
    else opts.rest.push(argv[i]);
  }
  if (opts.collectorPort === undefined) {
    // Port 0 means any free port, for both; otherwise the collector sits 1000 above the site.
    opts.collectorPort = opts.port === 0 ? 0 : opts.port + COLLECTOR_OFFSET <= 65535 ? opts.port + COLLECTOR_OFFSET : opts.port - COLLECTOR_OFFSET;
  }
  return opts;
}

/** An address to connect to for a listening host: a wildcard bind is reached on loopback. */
function reachable(host) {
  if (host === '0.0.0.0' || host === '::' || host === '[::]') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** bext.config.toml with the live server address and collector URL. */
function runConfig(text, { port, host, collectorUrl }) {
  const server = /^\[server\][^[]*/m.exec(text);
  let out = text;
  if (server) {
    const body = server[0].replace(/^port\s*=.*$/m, `port = ${port}`).replace(/^host\s*=.*$/m, `host = ${JSON.stringify(host)}`);
    out = out.slice(0, server.index) + body + out.slice(server.index + server[0].length);
  }
  return `# Written by plugins-example/start.js from bext.config.toml with the live ports; edit that file instead.\n${out.replaceAll(DEFAULT_COLLECTOR, collectorUrl)}`;
}

const opts = parseArgs(process.argv.slice(2));

let collector = null;
let collectorUrl = `http://${reachable(opts.host)}:${opts.collectorPort}`;
try {
  collector = await startCollector({ port: opts.collectorPort, host: opts.host });
  collectorUrl = `http://${reachable(opts.host)}:${collector.port}`;
  console.log(`[collector] listening on ${collectorUrl}; my-analytics batches will show up here`);
} catch (e) {
  console.warn(e.code === 'EADDRINUSE'
    ? `[collector] port ${opts.collectorPort} is already in use; assuming a collector is running there (--collector-port N picks another)`
    : `[collector] not started: ${e.message}`);
}

const live = { port: opts.port, host: opts.host, collectorUrl };
function writeRunConfig() {
  writeFileSync(RUN_CONFIG, runConfig(readFileSync(CONFIG, 'utf8'), live));
}
writeRunConfig();
writeFileSync(URLS_FILE, `${JSON.stringify({
  collector: collectorUrl,
  config: path.relative(process.cwd(), RUN_CONFIG) || RUN_CONFIG,
}, null, 2)}\n`);

// Edits to bext.config.toml reach the running server through the copy it watches.
let pending = null;
const watcher = watch(CONFIG, () => {
  clearTimeout(pending);
  pending = setTimeout(() => {
    try {
      writeRunConfig();
    } catch (e) {
      console.warn(`[demo] could not update ${path.basename(RUN_CONFIG)}: ${e.message}`);
    }
  }, 50);
});

const child = spawn(process.execPath, [BIN, 'dev', '-c', RUN_CONFIG, '-p', String(opts.port), '--host', opts.host, ...opts.rest], {
  stdio: 'inherit',
});

// The terminal sends Ctrl-C to the whole process group; forward other signals explicitly.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { if (child.exitCode === null) child.kill(sig); });
}

child.on('exit', async (code, signal) => {
  watcher.close();
  clearTimeout(pending);
  if (collector) await collector.close();
  process.exit(code ?? (signal ? 1 : 0));
});
