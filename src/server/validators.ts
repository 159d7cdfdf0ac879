/** The validators of static files (ETag, Last-Modified) and the conditional-request checks on them. */

/** A weak ETag from a file's size and mtime: any content change that keeps both is caught by file-memory.ts, not here. */
export function etagFor(st: { size: number; mtimeMs: number }): string {
  return `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
}

/** Last-Modified: the mtime rounded down to the second, as HTTP dates carry it. */
export function lastModifiedFor(mtimeMs: number): string {
  return new Date(Math.floor(mtimeMs / 1000) * 1000).toUTCString();
}

/** True when an If-None-Match header lists this ETag (weak comparison, as RFC 9110 asks for GET). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}
