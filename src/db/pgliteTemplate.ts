// The embedded database's first start. PGlite's initdb costs seconds (and hundreds of MB
// while it runs); copying a data directory that was initialized and migrated once, at
// build time, costs tens of milliseconds. The copy is a plain directory copy of a cleanly
// closed PGlite, so opening it is the same as a restart. Migrations newer than the
// template are applied on open as usual, so an old template is only slower, never wrong.
import { constants, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` puts the template: dist/pglite-template (from src/db or dist/db). */
export const TEMPLATE_DIR = fileURLToPath(new URL('../../dist/pglite-template', import.meta.url));
const STAMP = 'flotilla-template.json';

/**
 * PGlite's start parameters plus a smaller shared_buffers: the default 128 MB is touched
 * as the database warms up and doubles the process's memory; the embedded database is one
 * laptop's queue and history, where 16 MB caches what matters.
 */
export async function pgliteStartParams(): Promise<string[]> {
  const { PGlite } = await import('@electric-sql/pglite');
  return [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];
}

/** The installed PGlite's version: a template from another version is not used. */
function pgliteVersion(): string {
  const require = createRequire(import.meta.url);
  // The package's exports do not include package.json: find it beside the resolved entry.
  let dir = dirname(require.resolve('@electric-sql/pglite'));
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== '@electric-sql/pglite') {
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
  return String(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version);
}

function templateUsable(templateDir: string): boolean {
  try {
    const stamp = JSON.parse(readFileSync(join(templateDir, STAMP), 'utf8')) as { pglite?: string };
    return stamp.pglite === pgliteVersion() && existsSync(join(templateDir, 'PG_VERSION'));
  } catch {
    return false;
  }
}

/**
 * Fills an empty or missing `dataDir` from the template. Returns false (and changes
 * nothing) when the directory already holds data or there is no usable template; PGlite
 * then opens or initializes it as before. The copy lands under a temporary name and is
 * renamed into place, so an interrupted copy never looks like a database.
 */
export function seedFromTemplate(dataDir: string, templateDir = TEMPLATE_DIR): boolean {
  const target = resolve(dataDir);
  if (existsSync(target) && readdirSync(target).length > 0) return false;
  if (!templateUsable(templateDir)) return false;
  const partial = `${target}.seeding-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(dirname(target), { recursive: true });
  // A copy-on-write clone where the file system offers one (btrfs, XFS, APFS), else a copy.
  cpSync(templateDir, partial, { recursive: true, mode: constants.COPYFILE_FICLONE, filter: (src) => !src.endsWith(STAMP) });
  if (existsSync(target)) rmdirSync(target);
  renameSync(partial, target);
  return true;
}

/** Builds the template: a fresh PGlite data directory with every migration applied. */
export async function buildTemplate(templateDir = TEMPLATE_DIR): Promise<void> {
  const { createDatabase } = await import('./client.js');
  const building = `${templateDir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  const database = await createDatabase({ dataDir: building, noTemplate: true });
  try {
    await database.migrate();
  } finally {
    await database.close();
  }
  writeFileSync(join(building, STAMP), JSON.stringify({ pglite: pgliteVersion(), builtAt: new Date().toISOString() }) + '\n');
  rmSync(templateDir, { recursive: true, force: true });
  renameSync(building, templateDir);
}
