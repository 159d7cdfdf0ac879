/** The small HTML pages bext itself answers with (404, 403, 502...). */

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function errorPage(status: number, title: string, detail: string): Buffer {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${status} ${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}code{background:#f3f3f3;padding:.1em .3em;border-radius:3px}small{color:#777}</style></head>
<body><h1>${status} ${escapeHtml(title)}</h1><p>${escapeHtml(detail)}</p><p><small>bext dev server</small></p></body></html>
`;
  return Buffer.from(html);
}
