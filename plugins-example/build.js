#!/usr/bin/env node
// Rebuilds the example plugins from source: `npm run build:examples` (= node plugins-example/build.js).
//
//   node plugins-example/build.js                 rebuild all, overwrite plugins/*/plugin.wasm
//   node plugins-example/build.js my-analytics    rebuild some
//   node plugins-example/build.js --out DIR       write DIR/<name>.wasm instead (the repo stays untouched)
//   node plugins-example/build.js --list          print the plugins and the toolchain each needs
//
// Toolchains: Rust with the wasm32-wasi target (Debian: rustc, cargo, libstd-rust-dev-wasm32,
// librust-serde-*-dev; or rustup), clang + lld + wasi-libc, and AssemblyScript (npm devDependency).
// A missing toolchain is reported with what to install; other plugins still build. Exit 1 if any failed.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const SDK_C = path.join(ROOT, 'sdk', 'c');
const SDK_AS = path.join(ROOT, 'sdk', 'assemblyscript', 'assembly', 'index');
const DEBIAN_CRATES = '/usr/share/cargo/registry';

/** Debian installs rustc/cargo in /usr/bin; rustup users have them on PATH. Env wins. */
export function rustTools() {
  const debian = existsSync('/usr/bin/rustc') && existsSync('/usr/bin/cargo');
  return {
    cargo: process.env.CARGO ?? (debian ? '/usr/bin/cargo' : 'cargo'),
    rustc: process.env.RUSTC ?? (debian ? '/usr/bin/rustc' : 'rustc'),
  };
}

/** wasm32-wasi (Debian, Rust < 1.84) or its newer name wasm32-wasip1, whichever std is installed. */
export function rustTarget() {
  const { rustc } = rustTools();
  const r = spawnSync(rustc, ['--print', 'sysroot'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  const lib = path.join(r.stdout.trim(), 'lib', 'rustlib');
  return ['wasm32-wasi', 'wasm32-wasip1'].find((t) => existsSync(path.join(lib, t))) ?? null;
}

function clangBin() {
  return process.env.CLANG ?? 'clang';
}

function ascBin() {
  return path.join(ROOT, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
}

/** Each plugin: its folder, toolchain, and how to build `out` from source. */
/** A C plugin in plugins/<name>/, one source file, built with the C SDK header. */
function cPlugin(name, source) {
  return {
    name,
    dir: `plugins/${name}`,
    toolchain: 'c',
    build(out) {
      run(clangBin(), ['--target=wasm32-wasi', '-O2', '-mexec-model=reactor', '-Wall', '-Wextra', '-Werror',
        '-Wl,--strip-debug', '-I', SDK_C, '-o', out, path.join(HERE, this.dir, source)]);
    },
  };
}

export const PLUGINS = [
  {
    name: 'my-analytics',
    dir: 'plugins/my-analytics',
    toolchain: 'rust',
    build(out) {
      const { cargo, rustc } = rustTools();
      const dir = path.join(HERE, this.dir);
      const triple = rustTarget();
      run(cargo, ['build', '--target', triple, '--release', '--quiet'], { cwd: dir, env: { ...process.env, RUSTC: rustc } });
      const target = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(dir, 'target');
      copyFileSync(path.join(target, triple, 'release', 'my_analytics.wasm'), out);
    },
  },
  cPlugin('cache-auditor', 'auditor.c'),
  cPlugin('greedy', 'greedy.c'),
  {
    name: 'bot-counter',
    dir: 'plugins/bot-counter',
    toolchain: 'assemblyscript',
    build(out) {
      const dir = path.join(HERE, this.dir);
      // asc resolves --use paths relative to the working directory, without the extension.
      const abort = path.relative(dir, SDK_AS).split(path.sep).join('/') + '/bext_abort';
      // --liftoff-only: see the AssemblyScript recipe in src/cli/scaffold/templates.ts.
      run(process.execPath, ['--liftoff-only', '--enable-source-maps', ascBin(), 'assembly/index.ts', '--runtime', 'stub', '--exportStart', '_initialize',
        '--use', `abort=${abort}`, '-O3', '-o', out], { cwd: dir });
    },
  },
];

const INSTALL_HINT = {
  rust: 'install Rust with the wasm32-wasi target (Debian: apt-get install rustc cargo libstd-rust-dev-wasm32 librust-serde-dev librust-serde-json-dev librust-serde-derive-dev; or rustup target add wasm32-wasi)',
  c: 'install clang, lld and wasi-libc (Debian: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)',
  assemblyscript: 'run npm ci (assemblyscript is a devDependency)',
};

class BuildError extends Error {}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) throw new BuildError(`${cmd}: ${r.error.code === 'ENOENT' ? 'not found' : r.error.message}`);
  if (r.status !== 0) {
    const output = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim();
    throw new BuildError(`${path.basename(cmd)} ${args.join(' ')} failed (exit ${r.status})${output ? `\n${output}` : ''}`);
  }
  return r.stdout;
}

/** Whether a toolchain is usable here: null if so, else why not. */
export function missingToolchain(toolchain) {
  const probe = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return r.error || r.status !== 0 ? `${cmd} ${args.join(' ')}: ${r.error ? 'not found' : (r.stderr || '').trim().split('\n')[0]}` : null;
  };
  if (toolchain === 'rust') {
    const { cargo, rustc } = rustTools();
    const sysroot = spawnSync(rustc, ['--print', 'sysroot'], { encoding: 'utf8' });
    if (sysroot.error || sysroot.status !== 0) return `${rustc} not found`;
    if (!rustTarget()) return `${rustc} has no wasm32-wasi / wasm32-wasip1 standard library`;
    // plugins-example/.cargo/config.toml builds offline against Debian's packaged crates.
    if (existsSync(path.join(HERE, '.cargo', 'config.toml')) && !existsSync(DEBIAN_CRATES)) {
      return `${DEBIAN_CRATES} (Debian's packaged crates, used by plugins-example/.cargo/config.toml) is missing; install them or delete that file to build against crates.io`;
    }
    return probe(cargo, ['--version']);
  }
  if (toolchain === 'c') {
    // A trivial reactor link proves clang, wasm-ld and wasi-libc are all there.
    const r = spawnSync(clangBin(), ['--target=wasm32-wasi', '-mexec-model=reactor', '-x', 'c', '-', '-o', '/dev/null'], {
      input: 'int x;', encoding: 'utf8',
    });
    if (r.error) return `${clangBin()} not found`;
    return r.status === 0 ? null : `clang cannot build wasm32-wasi reactors: ${(r.stderr || '').trim().split('\n')[0]}`;
  }
  if (toolchain === 'assemblyscript') return existsSync(ascBin()) ? null : 'assemblyscript is not installed';
  return `unknown toolchain ${toolchain}`;
}

/** Builds the named plugins (all when empty). Returns [{ name, ok, out, ms, error, skipped }]. */
export function buildExamples({ names = [], outDir = null, log = () => {} } = {}) {
  const unknown = names.filter((n) => !PLUGINS.some((p) => p.name === n));
  if (unknown.length) throw new BuildError(`unknown plugin ${unknown.join(', ')}; known: ${PLUGINS.map((p) => p.name).join(', ')}`);
  if (outDir) mkdirSync(outDir, { recursive: true });
  const results = [];
  for (const p of PLUGINS.filter((p) => names.length === 0 || names.includes(p.name))) {
    const out = outDir ? path.join(outDir, `${p.name}.wasm`) : path.join(HERE, p.dir, 'plugin.wasm');
    const missing = missingToolchain(p.toolchain);
    if (missing) {
      results.push({ name: p.name, ok: false, skipped: true, out, error: `${missing}; ${INSTALL_HINT[p.toolchain]}` });
      log(`skip   ${p.name}: ${missing}\n       ${INSTALL_HINT[p.toolchain]}`);
      continue;
    }
    const t0 = Date.now();
    try {
      p.build(out);
      const ms = Date.now() - t0;
      results.push({ name: p.name, ok: true, out, ms });
      log(`built  ${p.name.padEnd(14)} ${path.relative(process.cwd(), out)} (${statSync(out).size.toLocaleString('en-US')} bytes, ${(ms / 1000).toFixed(1)} s)`);
    } catch (e) {
      results.push({ name: p.name, ok: false, out, error: e.message });
      log(`FAILED ${p.name}: ${e.message}`);
    }
  }
  return results;
}

function main(argv) {
  const names = [];
  let outDir = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out' || a === '-o') outDir = path.resolve(argv[++i] ?? '');
    else if (a === '--list') {
      for (const p of PLUGINS) {
        const missing = missingToolchain(p.toolchain);
        console.log(`${p.name.padEnd(14)} ${p.toolchain.padEnd(15)} ${p.dir}${missing ? `  (unavailable: ${missing})` : ''}`);
      }
      return 0;
    } else if (a === '--help' || a === '-h') {
      console.log('usage: node plugins-example/build.js [NAME...] [--out DIR] [--list]');
      return 0;
    } else if (a.startsWith('-')) {
      console.error(`build.js: unknown option ${a} (try --help)`);
      return 2;
    } else names.push(a);
  }
  let results;
  try {
    results = buildExamples({ names, outDir, log: (line) => console.log(line) });
  } catch (e) {
    if (e instanceof BuildError) {
      console.error(`build.js: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length) {
    console.error(`\n${failed.length} of ${results.length} plugins not built: ${failed.map((r) => r.name).join(', ')}`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
