/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A minimal stand-alone page for errors (403 after a bad SSO, 404, 500). Styled from /assets: the CSP allows no inline style. */
export function errorPage(status: number, title: string, message: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Herald</title>
<link rel="stylesheet" href="/assets/error.css">
</head><body><h1>${escapeHtml(status)} · ${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>`;
}
