// Serves the built console (dist/web, from `npm run build:web`) at `/`: files under /assets
// are content-hashed and cached for good; any other GET that is not an API path answers
// index.html, so a client route like /runs/<id> opened directly (or reloaded) still works.
// Without a build, a plain page says how to make one instead of a blank screen.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import { serveStatic } from '@hono/node-server/serve-static';

/** <repo>/dist/web, from src/api (tsx) and from dist/api (compiled) alike. */
export const DEFAULT_WEB_DIR = resolve(fileURLToPath(new URL('../../dist/web', import.meta.url)));

/** Paths the console never answers: they keep their API meaning (and their 404s). */
const API_PATHS = /^\/(graphql|api|health|metrics)(\/|$)/;

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Flotilla: console not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em}code{background:#eee;padding:.1em .3em}</style>
</head><body>
<h1>The Flotilla console is not built yet</h1>
<p>The API is running: GraphQL at <a href="/graphql">/graphql</a>, REST under <code>/api/v6</code>.</p>
<p>To get the web console, build it once and reload this page:</p>
<pre><code>npm run build:web</code></pre>
<p>(<code>npm ci</code> builds it through the <code>prepare</code> script; a clone installed with
<code>--ignore-scripts</code> skips that.)</p>
</body></html>`;

export function mountWebConsole(app: Hono, webDir: string = DEFAULT_WEB_DIR): void {
  const indexPath = join(webDir, 'index.html');
  // Re-read when the file changes, so building while the server runs needs no restart
  // (a cached old index.html would name assets the new build removed).
  let indexHtml: string | undefined;
  let indexMtime = 0;
  const index = (): string | undefined => {
    const mtime = statSync(indexPath, { throwIfNoEntry: false })?.mtimeMs;
    if (mtime === undefined) return undefined;
    if (mtime !== indexMtime || indexHtml === undefined) {
      indexHtml = readFileSync(indexPath, 'utf8');
      indexMtime = mtime;
    }
    return indexHtml;
  };
  // Made on first use: serveStatic complains at creation when its root is missing, and a
  // server may start before the console is built.
  let assets: ReturnType<typeof serveStatic> | undefined;
  let operations: ReturnType<typeof serveStatic> | undefined;
  app.get('/assets/*', (c, next) => {
    if (!existsSync(webDir)) return next();
    assets ??= serveStatic({ root: webDir });
    // Names carry a content hash: a changed file is a new name.
    c.header('cache-control', 'public, max-age=31536000, immutable');
    return assets(c, next);
  });
  app.get('/persisted-operations.json', (c, next) => {
    if (!existsSync(webDir)) return next();
    operations ??= serveStatic({ root: webDir });
    return operations(c, next);
  });
  app.get('*', async (c, next) => {
    if (API_PATHS.test(c.req.path)) return next();
    // Only navigations get the app shell; a missing /foo.js stays a 404.
    const last = c.req.path.split('/').pop() ?? '';
    if (last.includes('.') && !last.endsWith('.html')) return next();
    const html = index();
    c.header('cache-control', 'no-cache');
    if (html === undefined) return c.html(NOT_BUILT, 503);
    return c.html(html);
  });
}
