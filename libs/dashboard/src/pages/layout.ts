// The page frame: navigation, who is signed in, the sign-out form (POST with the session's
// anti-forgery token), the one stylesheet and the one script (both from /ui/assets).
import { html, type Html } from '../html';

export const NAV = [
  { href: '/ui/waiting', label: 'Waiting for me' },
  { href: '/ui/live', label: 'Live grants' },
  { href: '/ui/history', label: 'History' },
  { href: '/ui/health', label: 'Health' },
] as const;

export interface Viewer {
  username: string;
  csrf: string;
}

export function layout(p: { title: string; current?: string; viewer?: Viewer; refreshSeconds?: number }, body: Html): string {
  const nav = p.viewer
    ? html`<nav aria-label="Dashboard"><ul>${NAV.map((n) => html`<li><a href="${n.href}"${n.href === p.current ? html` aria-current="page"` : ''}>${n.label}</a></li>`)}</ul></nav>
<form method="post" action="/ui/auth/logout"><input type="hidden" name="csrf" value="${p.viewer.csrf}"><span>Signed in as <strong data-testid="username">${p.viewer.username}</strong></span> <button type="submit" class="secondary">Sign out</button></form>`
    : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${p.title} · jit</title><link rel="stylesheet" href="/ui/assets/dashboard.css"><script src="/ui/assets/dashboard.js" defer></script></head>
<body><a class="skip" href="#main">Skip to content</a>
<header><a class="brand" href="/ui/waiting">jit</a>${nav}</header>
<main id="main"${p.refreshSeconds ? html` data-refresh-seconds="${p.refreshSeconds}"` : ''}><h1>${p.title}</h1>${body}</main></body></html>`.value;
}
