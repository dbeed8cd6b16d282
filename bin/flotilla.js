#!/usr/bin/env node
// Runs the compiled CLI (dist/bundle, built by `npm ci` through the prepare script, and in
// the container image), so starting costs no TypeScript compiler. In a checkout where src/ was
// edited after the last build, dist/ is stale: then the TypeScript sources run through tsx
// (slower to start, never out of date) and a line on stderr says how to rebuild. A
// container image has no src/, so it always runs dist/.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/bundle/cli.js', import.meta.url));
const sources = fileURLToPath(new URL('../src/', import.meta.url));

/**
 * The newest modification time of the server's sources under `dir` (a few hundred stat
 * calls: about a millisecond). src/web is the console, built into dist/web by its own step
 * (which also rewrites its generated types after the server is compiled), so it never makes
 * the server's dist/ stale.
 */
function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = dir + entry.name;
    if (entry.isDirectory()) {
      if (path + '/' !== sources + 'web/') newest = Math.max(newest, newestMtime(path + '/'));
    } else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function compiledIsCurrent() {
  if (!existsSync(compiled)) return false;
  if (!existsSync(sources)) return true;
  return statSync(compiled).mtimeMs >= newestMtime(sources);
}

if (process.env.FLOTILLA_FROM_SOURCE !== '1' && compiledIsCurrent()) {
  await import(pathToFileURL(compiled).href);
} else {
  if (existsSync(compiled) && process.env.FLOTILLA_FROM_SOURCE !== '1') {
    process.stderr.write('flotilla: dist/ is older than src/, running the TypeScript sources (slower start); `npm run build` refreshes dist/\n');
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
