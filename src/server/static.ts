/**
 * Static files from `server.root`. Every request path is decoded once and checked segment by
 * segment: `..` (also encoded as %2e%2e or with backslashes), NUL bytes and anything whose real
 * path (after symlinks) lies outside the root are refused with 403, never served.
 */
import { createReadStream, promises as fsp, readFile, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { contentType } from './mime.js';
import { errorPage } from './pages.js';
import type { HeaderMap, OriginResponse } from './types.js';
import { createFileMemory, type FileMemory } from './file-memory.js';
import { isHtmlDocument, injectHtml, isHtmlType, variantEtag, type HtmlInjection } from './html-inject.js';

/** Files up to this size are answered from memory (read once, kept while unchanged); larger ones stream. */
const BUFFER_LIMIT = 256 * 1024;
/** HTML pages up to this size get the live-reload tag (read whole for it); larger ones are served as they are. */
const INJECT_LIMIT = 8 * 1024 * 1024;

export interface StaticRoot {
  /** Absolute root as configured. */
  dir: string;
  /** realpath of dir, for the symlink check. */
  real: string;
  /** Small files' bytes, by real path, checked against a fresh stat before every use. */
  memory: FileMemory;
}

export async function openStaticRoot(dir: string): Promise<StaticRoot | { error: string }> {
  try {
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) return { error: `server.root ${dir} is not a folder` };
    return { dir, real: await fsp.realpath(dir), memory: createFileMemory() };
  } catch {
    return { error: `server.root ${dir} does not exist` };
  }
}

type Checked = { ok: true; segments: string[] } | { ok: false; status: number; reason: string };

/** Decodes and checks a URL path (the part before `?`). */
export function checkPath(rawPath: string): Checked {
  if (!rawPath.startsWith('/')) return { ok: false, status: 400, reason: 'the request path must start with /' };
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return { ok: false, status: 400, reason: 'the request path is not valid percent-encoding' };
  }
  if (decoded.includes('\0')) return { ok: false, status: 400, reason: 'the request path contains a NUL byte' };
  // Backslashes are separators on Windows and in some clients' heads; treat them as such.
  const segments = decoded.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..')) return { ok: false, status: 403, reason: 'paths that leave the site root are refused' };
  // A drive letter (C:) in a segment would make path.join leave the root on Windows.
  if (segments.some((s) => /^[a-zA-Z]:/.test(s))) return { ok: false, status: 403, reason: 'absolute paths are refused' };
  return { ok: true, segments };
}

function inside(parent: string, child: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
}

function page(status: number, title: string, detail: string, head: boolean): OriginResponse {
  const body = errorPage(status, title, detail);
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length) },
    body: head ? null : body,
  };
}

export function etagFor(st: Stats): string {
  return `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
}

/** True when an If-None-Match header lists this ETag (weak comparison, as RFC 9110 asks for GET). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

/*
 * Why the metadata calls below are synchronous: a cache miss used to pay stat(dir), stat, realpath
 * and a promise readFile, six or seven thread-pool round trips, each costing the event loop more
 * than the system call itself. stat and realpath of a file under a local site root are answered
 * from the kernel's inode and directory caches in microseconds, so they run inline and every
 * request still checks exactly what it did before (the file exists now, is a regular file, and its
 * real path is inside the root's real path), with no window in which a watcher event is awaited.
 * Only reading bytes goes to the thread pool, and only when the file changed (see file-memory.ts).
 */
function statNow(file: string): Stats | null {
  try {
    return statSync(file, { throwIfNoEntry: false }) ?? null;
  } catch {
    // ENOTDIR (a path through a file), EACCES, ELOOP: nothing servable there.
    return null;
  }
}

function realpathNow(file: string): string | null {
  try {
    return realpathSync.native(file);
  } catch {
    return null;
  }
}

function readWhole(file: string): Promise<Buffer> {
  // The callback form: the promise readFile costs about twice as much per call.
  return new Promise((resolve, reject) => readFile(file, (err, buf) => (err ? reject(err) : resolve(buf))));
}

export interface StaticRequest {
  method: string;
  rawPath: string;
  search: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
}

/**
 * The bytes of a file of at most INJECT_LIMIT bytes: from memory when unchanged, else read (and
 * kept when small). null when it cannot be read.
 */
async function bytesOf(root: StaticRoot, real: string, st: Stats, statAt: number): Promise<Buffer | null> {
  const kept = root.memory.get(real, st);
  if (kept !== null) return kept;
  let buf: Buffer;
  try {
    buf = await readWhole(real);
  } catch {
    return null;
  }
  if (st.size <= BUFFER_LIMIT) root.memory.keep(real, st, statAt, buf);
  return buf;
}

/**
 * Serves a file under the root. With `inject`, HTML pages (up to INJECT_LIMIT) get its tag and
 * the matching ETag variant (html-inject.ts); they then carry no Last-Modified, so a browser
 * holding the plain copy cannot revalidate it by date.
 */
export async function serveStatic(root: StaticRoot, req: StaticRequest, inject: HtmlInjection | null = null): Promise<OriginResponse> {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    const r = page(405, 'Method Not Allowed', `${req.method} is not supported for static files.`, head);
    r.headers.allow = 'GET, HEAD';
    r.notFound = true;
    return r;
  }
  // With live reload the 404 page carries the tag too: creating the missing file shows it.
  const missing = (): OriginResponse => {
    const body = errorPage(404, 'Not Found', `${req.rawPath} was not found.`);
    const withTag = inject ? injectHtml(body, inject.tag) : body;
    const headers = { 'content-type': 'text/html; charset=utf-8', 'content-length': String(withTag.length) };
    return { status: 404, headers, body: head ? null : withTag, notFound: true };
  };
  const checked = checkPath(req.rawPath);
  if (!checked.ok) return page(checked.status, checked.status === 400 ? 'Bad Request' : 'Forbidden', checked.reason, head);
  if (checked.segments.some((s) => s.startsWith('.') && s !== '.well-known')) {
    return missing();
  }
  let file = path.join(root.dir, ...checked.segments);
  if (!inside(root.dir, file)) return page(403, 'Forbidden', 'paths that leave the site root are refused', head);

  const statAt = Date.now();
  let st = statNow(file);
  if (st?.isDirectory()) {
    if (!req.rawPath.endsWith('/')) {
      // Relative links inside index.html only resolve against a trailing slash.
      const location = `${req.rawPath}/${req.search}`;
      return { status: 301, headers: { location, 'content-length': '0' }, body: head ? null : Buffer.alloc(0) };
    }
    file = path.join(file, 'index.html');
    st = statNow(file);
  }
  if (!st || !st.isFile()) return missing();

  const real = realpathNow(file);
  if (real === null) return missing();
  if (!inside(root.real, real)) return page(403, 'Forbidden', 'symbolic links that point outside the site root are refused', head);

  const type = contentType(file);
  let bytes: Buffer | null = null;
  let injected = false;
  if (inject && isHtmlType(type) && st.size <= INJECT_LIMIT) {
    // Read first: whether the page can take the tag decides its ETag.
    bytes = await bytesOf(root, real, st, statAt);
    if (bytes === null) return page(403, 'Forbidden', `${req.rawPath} cannot be read.`, head);
    injected = isHtmlDocument(bytes);
  }
  const etag = injected ? variantEtag(etagFor(st), inject!.variant) : etagFor(st);
  const headers: HeaderMap = {
    'content-type': type,
    etag,
    // Browsers revalidate every time (cheap 304s), so edits show up on reload.
    'cache-control': 'no-cache',
  };
  if (!injected) headers['last-modified'] = new Date(Math.floor(st.mtimeMs / 1000) * 1000).toUTCString();
  const notModified = req.ifNoneMatch !== undefined
    ? etagMatches(req.ifNoneMatch, etag)
    : !injected && req.ifModifiedSince !== undefined && Date.parse(req.ifModifiedSince) >= Math.floor(st.mtimeMs / 1000) * 1000;
  if (notModified) {
    delete headers['content-type'];
    return { status: 304, headers, body: null };
  }
  if (bytes !== null) {
    const body = injected ? injectHtml(bytes, inject!.tag) : bytes;
    headers['content-length'] = String(body.length);
    return { status: 200, headers, body: head ? null : body };
  }
  headers['content-length'] = String(st.size);
  if (head) return { status: 200, headers, body: null };
  if (st.size <= BUFFER_LIMIT) {
    const buf = await bytesOf(root, real, st, statAt);
    if (buf === null) return page(403, 'Forbidden', `${req.rawPath} cannot be read.`, head);
    headers['content-length'] = String(buf.length);
    return { status: 200, headers, body: buf };
  }
  return { status: 200, headers, body: createReadStream(real) };
}
