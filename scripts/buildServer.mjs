// npm run build:server: compiles src/ to dist/ (so `flotilla` starts without a TypeScript
// compiler) and builds the embedded database's template (dist/pglite-template), so a first
// `npm start` copies a migrated data directory instead of running initdb. dist/web belongs
// to the console's build and is left alone.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const step = (name, fn) => {
  const started = performance.now();
  return Promise.resolve(fn()).then(() => console.log(`build:server: ${name} ${Math.round(performance.now() - started)} ms`));
};

// Files of deleted sources must not linger in dist/.
if (existsSync(dist)) for (const entry of readdirSync(dist)) if (entry !== 'web') rmSync(dist + entry, { recursive: true, force: true });

await step('tsc', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
});
await step('pglite template', async () => {
  const { buildTemplate } = await import(pathToFileURL(dist + 'db/pgliteTemplate.js').href);
  await buildTemplate();
});
