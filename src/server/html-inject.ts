/**
 * Adds a tag to HTML pages (the live-reload client) without changing anything else about them.
 *
 * The injected copy is a different representation of the file, so it carries its own validator:
 * the ETag gains a suffix named after the tag, which a browser holding the plain copy (or a copy
 * with an older tag) never matches, and the other way round. Only whole documents get the tag
 * (isHtmlDocument), so the bytes are read before the ETag is known.
 */
import { createHash } from 'node:crypto';

export interface HtmlInjection {
  /** The bytes inserted into each page. */
  readonly tag: Buffer;
  /** Appended to the page's ETag: names the tag, so a changed tag changes the validator. */
  readonly variant: string;
}

export function htmlInjection(tag: string): HtmlInjection {
  const bytes = Buffer.from(tag);
  return { tag: bytes, variant: `lr-${createHash('sha256').update(bytes).digest('hex').slice(0, 8)}` };
}

/** True for a text/html content type. */
export function isHtmlType(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'text/html';
}

/** The ETag of the injected representation: `W/"abc"` → `W/"abc-lr-1234abcd"`. */
export function variantEtag(etag: string, variant: string): string {
  return etag.endsWith('"') ? `${etag.slice(0, -1)}-${variant}"` : `${etag}-${variant}`;
}

/**
 * True when the bytes are a whole HTML document in an ASCII-compatible encoding: a doctype, an
 * `<html>` or a `<body>` tag. Fragments (partials that a page fetches and inserts, test stubs)
 * are left alone, and so is a UTF-16 page (byte order mark), which ASCII bytes would break.
 */
export function isHtmlDocument(body: Buffer): boolean {
  if (body.length >= 2 && ((body[0] === 0xff && body[1] === 0xfe) || (body[0] === 0xfe && body[1] === 0xff))) return false;
  return /<!doctype\s+html|<html[\s>]|<body[\s>]/i.test(body.toString('latin1'));
}

/**
 * The page with `tag` inserted before its last `</body>` (any case), else at the end, where a
 * browser's parser still puts it into the body.
 */
export function injectHtml(body: Buffer, tag: Buffer): Buffer {
  // latin1 maps each byte to one character, so string offsets are byte offsets.
  const at = body.toString('latin1').toLowerCase().lastIndexOf('</body');
  if (at < 0) return Buffer.concat([body, tag]);
  return Buffer.concat([body.subarray(0, at), tag, body.subarray(at)]);
}
