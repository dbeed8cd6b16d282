// npm run build:server: compiles src/ to dist/ (so `flotilla` starts without a TypeScript
// compiler), links the compiled CLI and most of its dependencies into a few files
// (dist/bundle, what bin/flotilla.js runs), and builds the embedded database's template
// (dist/pglite-template), so a first `npm start` copies a migrated data directory instead
// of running initdb. dist/web belongs to the console's build and is left alone.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { relative, sep } from 'node:path';
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
await step('bundle', () => bundle());
await step('pglite template', async () => {
  const { buildTemplate } = await import(pathToFileURL(dist + 'db/pgliteTemplate.js').href);
  await buildTemplate();
});

/**
 * Loading ~900 small ES modules (graphql-tools, drizzle, zod, jose, ...) one by one cost
 * about a second of CPU and 30 MB per start; linked into a few chunks they load in a third
 * of that. Code split at the CLI's dynamic imports, so each command still loads only what
 * it uses (engines' SDKs stay lazy).
 *
 * Left outside (loaded from node_modules as before): packages that find files beside their
 * own modules (PGlite's WebAssembly, pino's worker threads), that have optional native
 * addons (ws, dockerode's ssh2), and the large SDKs that only some configurations load.
 */
async function bundle() {
  const { build } = await import('esbuild');
  const outdir = dist + 'bundle';
  await build({
    entryPoints: [dist + 'cli.js'],
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Error classes and their names show in logs and answers: keep them.
    keepNames: true,
    external: ['@electric-sql/pglite', 'pino', 'ws', 'dockerode', '@kubernetes/client-node', '@aws-sdk/*', 'ioredis', 'postgres'],
    // CommonJS dependencies call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  // Modules find the migrations, the template and the console with paths relative to their
  // own file (`new URL('../../drizzle', import.meta.url)` from src/db/): the chunks must sit
  // as deep below the root as those modules do, or every such path would miss.
  if (relative(root, outdir).split(sep).length !== 2) throw new Error(`bundle: ${outdir} must be two levels below ${root}`);
}
