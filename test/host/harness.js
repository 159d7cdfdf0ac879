// Shared helpers for host-service tests: temp state dirs and ServicesInit with inline permissions.
import { tempDir as tempDirRemovedAtExit } from '../helpers/cleanup.js';

export function tempDir(prefix = 'bext-host-') {
  return tempDirRemovedAtExit(prefix);
}

export function permissions(over = {}) {
  return {
    allowed_urls: [],
    storage_quota_kb: 1024,
    max_fetch_per_minute: 60,
    kv_namespaces: [],
    queue_names: [],
    fetch_timeout_ms: 10_000,
    max_response_bytes: 5 * 1024 * 1024,
    ...over,
  };
}

export function init(plugin, stateDbPath, perms = {}, callMain) {
  return {
    plugin,
    stateDbPath,
    permissions: permissions(perms),
    callMain: callMain ?? (() => { throw new Error('no main thread in this test'); }),
  };
}

export const enc = (s) => new TextEncoder().encode(s);
export const dec = (b) => new TextDecoder().decode(b);
