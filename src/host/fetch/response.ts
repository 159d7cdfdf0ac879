/**
 * The response JSON handed back to the guest: {status, headers: [[k,v]], body, url}. Bodies that
 * are text come back as "body"; bytes that are not UTF-8, or that a content type or encoding says
 * are binary, come back as "body_base64". Failures are {"status":0,"error":"..."}.
 */
import type { IncomingHttpHeaders } from 'node:http';

const BINARY_TYPES = /^(image|audio|video|font)\/|^application\/(octet-stream|zip|gzip|x-gzip|pdf|wasm|x-tar|x-protobuf|protobuf|vnd\.)/i;
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function headerPairs(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) out.push([k, item]);
    else out.push([k, String(v)]);
  }
  return out;
}

function headerValue(pairs: Array<[string, string]>, name: string): string | undefined {
  return pairs.find(([k]) => k.toLowerCase() === name)?.[1];
}

export function responseJson(status: number, headers: Array<[string, string]>, body: Buffer, url: string): string {
  const type = headerValue(headers, 'content-type') ?? '';
  const encoding = (headerValue(headers, 'content-encoding') ?? 'identity').toLowerCase();
  let text: string | null = null;
  if (!BINARY_TYPES.test(type) && (encoding === 'identity' || encoding === '')) {
    try {
      text = strict.decode(body);
    } catch {
      text = null;
    }
  }
  return JSON.stringify(
    text !== null ? { status, headers, body: text, url } : { status, headers, body_base64: body.toString('base64'), url },
  );
}

export function errorJson(error: string): string {
  return JSON.stringify({ status: 0, error });
}
