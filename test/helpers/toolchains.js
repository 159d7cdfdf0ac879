// Native toolchains are optional for `npm test`: tests that rebuild examples and SDKs from C or
// Rust source skip, with a reason naming the fix, when the toolchain is not installed. The
// committed prebuilt .wasm files are exercised either way. AssemblyScript comes from npm.
import { existsSync } from 'node:fs';
import { missingToolchain } from '../../plugins-example/build.js';

const WHAT = {
  c: 'clang with wasi-libc',
  rust: 'rustc with the wasm32-wasi standard library',
  assemblyscript: 'the assemblyscript npm package',
};

const FIX = {
  c: 'bash .ci/run installs it',
  rust: 'bash .ci/run installs it',
  assemblyscript: 'npm ci installs it',
};

/** `false` when `toolchain` can build wasm32-wasi modules here, else the skip reason. */
export function skipWithout(toolchain) {
  const missing = missingToolchain(toolchain);
  return missing ? `${WHAT[toolchain]} not found — ${FIX[toolchain]} (${missing})` : false;
}

/** Debian's chromium, which the dashboard's browser tests drive with puppeteer-core (no browser download). */
export const CHROMIUM = process.env.BEXT_CHROMIUM || '/usr/bin/chromium';

/** `false` when a Chromium is installed for the browser tests, else the skip reason. */
export function skipWithoutChromium() {
  return existsSync(CHROMIUM) ? false : `chromium not found at ${CHROMIUM} — bash .ci/run installs it (apt chromium)`;
}

/**
 * Headless chromium through puppeteer-core, with its profile in `userDataDir` and nothing of its
 * own on the network (no QUIC, updates, sync or background fetches): tests talk to loopback only.
 */
export async function launchChromium(userDataDir) {
  const { default: puppeteer } = await import('puppeteer-core');
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
