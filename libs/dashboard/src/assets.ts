// The dashboard's static assets, files in libs/dashboard/static/ read once at start. The build
// copies that directory beside the bundle (scripts/build/bundle-app.mjs follows the URL below).
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

export interface Asset {
  body: string;
  type: string;
  etag: string;
}

export function loadAssets(): Record<string, Asset> {
  const css = new URL('../static/dashboard.css', import.meta.url);
  const load = (url: URL, type: string): Asset => {
    const body = readFileSync(url, 'utf8');
    return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
  };
  return {
    'dashboard.css': load(css, 'text/css; charset=utf-8'),
    // beside the stylesheet (a .js URL is taken for code by the bundler)
    'dashboard.js': load(new URL('dashboard.js', css), 'text/javascript; charset=utf-8'),
  };
}
