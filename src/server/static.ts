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
import { createFileMemory, type FileMemory, type KeptFile } from './file-memory.js';
import { isHtmlDocument, injectHtml, isHtmlType, variantEtag, type HtmlInjection } from './html-inject.js';
import { etagFor, etagMatches, lastModifiedFor } from './validators.js';

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
  /** What each request path names under the root (see resolvePath); depends on nothing on disk. */
  paths: Map<string, Named>;
}

export async function openStaticRoot(dir: string): Promise<StaticRoot | { error: string }> {
  try {
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) return { error: `server.root ${dir} is not a folder` };
    return { dir, real: await fsp.realpath(dir), memory: createFileMemory(), paths: new Map() };
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

/** A file the request path names: where it is and its content type, also for index.html if it is a folder. */
interface FileName {
  file: string;
  type: string;
  html: boolean;
}

/** What a request path names under the root, before anything on disk is looked at. */
type Named =
  | { kind: 'file'; name: FileName; index: FileName }
  | { kind: 'hidden' }
  | { kind: 'refused'; status: number; reason: string };

/** Request paths remembered per root; past this many the memory starts over (a crawler, a scan). */
const MAX_NAMED_PATHS = 4096;
/** Longer paths are checked every time rather than remembered. */
const MAX_NAMED_LENGTH = 256;

function fileName(file: string): FileName {
  const type = contentType(file);
  return { file, type, html: isHtmlType(type) };
}

function namePath(root: StaticRoot, rawPath: string): Named {
  const checked = checkPath(rawPath);
  if (!checked.ok) return { kind: 'refused', status: checked.status, reason: checked.reason };
  if (checked.segments.some((s) => s.startsWith('.') && s !== '.well-known')) return { kind: 'hidden' };
  const file = path.join(root.dir, ...checked.segments);
  if (!inside(root.dir, file)) return { kind: 'refused', status: 403, reason: 'paths that leave the site root are refused' };
  return { kind: 'file', name: fileName(file), index: fileName(path.join(file, 'index.html')) };
}

/**
 * checkPath and the join under the root, remembered per request path: both depend only on the
 * path and the root's name, so a repeated request pays one map lookup. Everything that depends on
 * the disk (stat, realpath, the bytes) is still looked at on every request.
 */
function resolvePath(root: StaticRoot, rawPath: string): Named {
  const known = root.paths.get(rawPath);
  if (known !== undefined) return known;
  const named = namePath(root, rawPath);
  if (rawPath.length <= MAX_NAMED_LENGTH) {
    if (root.paths.size >= MAX_NAMED_PATHS) root.paths.clear();
    root.paths.set(rawPath, named);
  }
  return named;
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

/** With live reload the 404 page carries the tag too: creating the missing file shows it. */
function notFound(req: StaticRequest, inject: HtmlInjection | null, head: boolean): OriginResponse {
  const body = errorPage(404, 'Not Found', `${req.rawPath} was not found.`);
  const withTag = inject ? injectHtml(body, inject.tag) : body;
  const headers = { 'content-type': 'text/html; charset=utf-8', 'content-length': String(withTag.length) };
  return { status: 404, headers, body: head ? null : withTag, notFound: true };
}

/** The in-memory copy's tagged page (made once per tag variant); null when the bytes are not a whole document. */
function injectedOf(kept: KeptFile, inject: HtmlInjection): { body: Buffer; etag: string } | null {
  kept.isDocument ??= isHtmlDocument(kept.body);
  if (!kept.isDocument) return null;
  if (kept.injected?.variant !== inject.variant) {
    kept.injected = { variant: inject.variant, body: injectHtml(kept.body, inject.tag), etag: variantEtag(kept.etag, inject.variant) };
  }
  return kept.injected;
}

/** Whether a conditional request's validators say the client's copy is current. */
function notModified(req: StaticRequest, etag: string, injected: boolean, mtimeMs: number): boolean {
  return req.ifNoneMatch !== undefined
    ? etagMatches(req.ifNoneMatch, etag)
    : !injected && req.ifModifiedSince !== undefined && Date.parse(req.ifModifiedSince) >= Math.floor(mtimeMs / 1000) * 1000;
}

/** A response from the in-memory copy of an unchanged file: no read, no promise. */
function fromMemory(kept: KeptFile, name: FileName, st: Stats, req: StaticRequest, inject: HtmlInjection | null, head: boolean): OriginResponse {
  const tagged = inject && name.html ? injectedOf(kept, inject) : null;
  const etag = tagged ? tagged.etag : kept.etag;
  const headers: HeaderMap = { 'content-type': name.type, etag, 'cache-control': 'no-cache' };
  if (!tagged) headers['last-modified'] = kept.lastModified;
  if (notModified(req, etag, tagged !== null, st.mtimeMs)) {
    delete headers['content-type'];
    return { status: 304, headers, body: null };
  }
  const body = tagged ? tagged.body : kept.body;
  headers['content-length'] = String(body.length);
  return { status: 200, headers, body: head ? null : body };
}

/**
 * Serves a file under the root. With `inject`, HTML pages (up to INJECT_LIMIT) get its tag and
 * the matching ETag variant (html-inject.ts); they then carry no Last-Modified, so a browser
 * holding the plain copy cannot revalidate it by date. An unchanged file kept in memory is
 * answered synchronously; a read makes the answer a promise.
 */
export function serveStatic(root: StaticRoot, req: StaticRequest, inject: HtmlInjection | null = null): OriginResponse | Promise<OriginResponse> {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    const r = page(405, 'Method Not Allowed', `${req.method} is not supported for static files.`, head);
    r.headers.allow = 'GET, HEAD';
    r.notFound = true;
    return r;
  }
  const missing = (): OriginResponse => notFound(req, inject, head);
  const named = resolvePath(root, req.rawPath);
  if (named.kind === 'refused') return page(named.status, named.status === 400 ? 'Bad Request' : 'Forbidden', named.reason, head);
  if (named.kind === 'hidden') return missing();
  let name = named.name;

  const statAt = Date.now();
  let st = statNow(name.file);
  if (st?.isDirectory()) {
    if (!req.rawPath.endsWith('/')) {
      // Relative links inside index.html only resolve against a trailing slash.
      const location = `${req.rawPath}/${req.search}`;
      return { status: 301, headers: { location, 'content-length': '0' }, body: head ? null : Buffer.alloc(0) };
    }
    name = named.index;
    st = statNow(name.file);
  }
  if (!st || !st.isFile()) return missing();

  const real = realpathNow(name.file);
  if (real === null) return missing();
  if (!inside(root.real, real)) return page(403, 'Forbidden', 'symbolic links that point outside the site root are refused', head);

  const kept = root.memory.entry(real, st);
  if (kept !== null) return fromMemory(kept, name, st, req, inject, head);
  return serveRead(root, req, inject, head, name, st, statAt, real);
}

/** serveStatic for a file not in memory (new, changed, or too large to keep): read or streamed. */
async function serveRead(
  root: StaticRoot,
  req: StaticRequest,
  inject: HtmlInjection | null,
  head: boolean,
  name: FileName,
  st: Stats,
  statAt: number,
  real: string,
): Promise<OriginResponse> {
  const type = name.type;
  let bytes: Buffer | null = null;
  let injected = false;
  if (inject && name.html && st.size <= INJECT_LIMIT) {
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
  if (!injected) headers['last-modified'] = lastModifiedFor(st.mtimeMs);
  if (notModified(req, etag, injected, st.mtimeMs)) {
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
