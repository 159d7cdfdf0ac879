#!/usr/bin/env node
// A tiny analytics collector for the demo: my-analytics POSTs its batches here.
//
//   node plugins-example/collector.js [--port 4000] [--host 127.0.0.1] [--quiet]
//
//   POST /ingest    a batch {"source": "...", "events": [...]}: stored, printed, answered 200
//   GET  /batches   every batch received so far, as JSON
//   GET  /          a one-line summary
//
// Also importable: `startCollector({ port: 0 })` (tests use it on a free port).
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_BODY = 5 * 1024 * 1024;

/** Starts the collector; resolves to { url, port, batches, close() }. */
export function startCollector({ port = 4000, host = '127.0.0.1', quiet = false, log = console.log } = {}) {
  const batches = [];
  const say = (line) => { if (!quiet) log(line); };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://collector');
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && url.pathname === '/batches') return send(200, batches);
    if (req.method === 'GET' && url.pathname === '/') {
      const events = batches.reduce((n, b) => n + b.events.length, 0);
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(`bext demo collector: ${batches.length} batches, ${events} events (GET /batches for all)\n`);
    }
    if (url.pathname !== '/ingest') return send(404, { error: `no route ${req.method} ${url.pathname}; POST /ingest or GET /batches` });
    if (req.method !== 'POST') return send(405, { error: 'POST a JSON batch to /ingest' });

    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        send(413, { error: 'batch larger than 5 MB' });
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        return send(400, { error: `body is not JSON: ${e.message}` });
      }
      if (!body || !Array.isArray(body.events)) return send(400, { error: 'expected {"source": "...", "events": [...]}' });
      const batch = { n: batches.length + 1, received_at: new Date().toISOString(), source: String(body.source ?? req.headers['x-bext-plugin'] ?? 'unknown'), events: body.events };
      batches.push(batch);
      const sample = body.events.slice(0, 6).map((e) => `${e.method ?? 'GET'} ${e.path ?? '?'} ${e.status ?? ''}${e.is_bot ? ' (bot)' : ''}`.trim());
      say(`[collector] batch #${batch.n} from ${batch.source}: ${body.events.length} event${body.events.length === 1 ? '' : 's'}: ${sample.join(', ')}${body.events.length > sample.length ? ', ...' : ''}`);
      send(200, { ok: true, received: body.events.length });
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      const actual = typeof addr === 'object' && addr ? addr.port : port;
      resolve({
        url: `http://${host}:${actual}`,
        port: actual,
        batches,
        close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
  });
}

function parseArgs(argv) {
  const opts = { port: 4000, host: '127.0.0.1', quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port' || a === '-p') opts.port = Number(argv[++i]);
    else if (a === '--host') opts.host = argv[++i];
    else if (a === '--quiet' || a === '-q') opts.quiet = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node plugins-example/collector.js [--port 4000] [--host 127.0.0.1] [--quiet]');
      process.exit(0);
    } else {
      console.error(`collector: unknown argument ${a} (try --help)`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    console.error('collector: --port must be an integer from 0 to 65535');
    process.exit(2);
  }
  return opts;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const opts = parseArgs(process.argv.slice(2));
  startCollector(opts).then(
    (c) => {
      console.log(`[collector] listening on ${c.url} (POST /ingest, GET /batches)`);
      const stop = () => c.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (e) => {
      console.error(e.code === 'EADDRINUSE'
        ? `collector: port ${opts.port} on ${opts.host} is in use (another collector running?); pick another with --port`
        : `collector: ${e.message}`);
      process.exit(1);
    },
  );
}
