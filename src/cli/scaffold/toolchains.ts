/**
 * Where the SDKs and toolchains are on this machine, as `bext new plugin` writes them into a
 * project's build recipe: absolute paths, so the project builds wherever it was created.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { packageRoot } from '../../package.js';

/** The package root, which ships sdk/. */
const PACKAGE_ROOT = packageRoot();

export const SDK_DIR = path.join(PACKAGE_ROOT, 'sdk');

/** Debian's packaged crates: with them Rust plugins build offline (a `.cargo/config.toml` points there). */
export const DEBIAN_CRATES = '/usr/share/cargo/registry';

export interface RustTools {
  cargo: string;
  /** The compiler cargo must use (Debian's, when cargo is Debian's: a rustup rustc lacks its wasm std). */
  rustc: string | null;
  /** wasm32-wasi (Rust < 1.84) or wasm32-wasip1, whichever standard library is installed; wasm32-wasi if unknown. */
  target: string;
}

export function rustTools(env: NodeJS.ProcessEnv = process.env): RustTools {
  const debian = existsSync('/usr/bin/rustc') && existsSync('/usr/bin/cargo');
  const cargo = env.CARGO ?? (debian ? '/usr/bin/cargo' : 'cargo');
  const rustc = env.RUSTC ?? (debian ? '/usr/bin/rustc' : null);
  return { cargo, rustc, target: rustTarget(rustc ?? 'rustc') };
}

function rustTarget(rustc: string): string {
  const r = spawnSync(rustc, ['--print', 'sysroot'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'wasm32-wasi';
  const lib = path.join(r.stdout.trim(), 'lib', 'rustlib');
  return ['wasm32-wasi', 'wasm32-wasip1'].find((t) => existsSync(path.join(lib, t))) ?? 'wasm32-wasi';
}

/** The AssemblyScript compiler bext was installed with (a devDependency), or null: then `npx asc`. */
export function ascScript(): string | null {
  // The path as installed (not its realpath), so a symlinked node_modules keeps working.
  const beside = path.join(PACKAGE_ROOT, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
  if (existsSync(beside)) return beside;
  try {
    const req = createRequire(path.join(PACKAGE_ROOT, 'package.json'));
    const pkg = req.resolve('assemblyscript/package.json');
    const asc = path.join(path.dirname(pkg), 'bin', 'asc.js');
    return existsSync(asc) ? asc : null;
  } catch {
    return null;
  }
}

export function clang(env: NodeJS.ProcessEnv = process.env): string {
  return env.CLANG ?? 'clang';
}
