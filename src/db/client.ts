// One factory for both backends: postgres.js against a real server (DATABASE_URL), or
// PGlite in a data directory for the embedded default. Both give the same drizzle API.
import { mkdirSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath } from 'node:url';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { sql as dsql } from 'drizzle-orm';
import * as schema from './schema.js';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction handle has the same query API as the database. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../drizzle', import.meta.url));

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** Apply drizzle/ migrations; safe to call from several processes at once. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres://… ; when absent, PGlite is used. */
  url?: string;
  /** PGlite data directory; undefined or 'memory://' keeps the database in memory. */
  dataDir?: string;
  /** postgres.js pool size. */
  max?: number;
  /** Run initdb even when a template could seed the data directory (building the template). */
  noTemplate?: boolean;
}

// Arbitrary constant: serialises concurrent `migrate()` calls across processes.
const MIGRATION_LOCK = 7_271_828;

export async function createDatabase(opts: DatabaseOptions): Promise<Database> {
  return opts.url ? createPostgres(opts.url, opts.max ?? 10) : createPglite(opts.dataDir, opts.noTemplate ?? false);
}

/**
 * `fetch_types: false`: postgres.js 3.4.9 runs an array-types query on every new connection
 * and drops its promise, so a connection cut during it ends the process with an unhandled
 * rejection (porsager/postgres#1192, #1205, #1223). We neither read nor send arrays, so the
 * query buys nothing. (The other crash on a cut connection is patched: patches/.)
 */
const DRIVER_OPTIONS = { onnotice: () => {}, fetch_types: false } as const;

async function createPostgres(url: string, max: number): Promise<Database> {
  const { default: postgres } = await import('postgres');
  const { drizzle } = await import('drizzle-orm/postgres-js');
  const { migrate } = await import('drizzle-orm/postgres-js/migrator');
  const client = postgres(url, { max, ...DRIVER_OPTIONS, connection: { application_name: 'flotilla' } });
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    kind: 'postgres',
    async migrate() {
      // One connection, so the advisory lock and the migration share a session.
      const conn = postgres(url, { max: 1, ...DRIVER_OPTIONS });
      try {
        await conn`select pg_advisory_lock(${MIGRATION_LOCK})`;
        await migrate(drizzle(conn, { schema }), { migrationsFolder: MIGRATIONS_DIR });
      } finally {
        await conn.end({ timeout: 5 });
      }
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/**
 * PGlite is a 9 MB WebAssembly module. By default V8 compiles its hot functions a second
 * time with its optimizing compiler, in the background; opening a database makes hundreds
 * of functions hot, which cost about a second of CPU and 60 MB of resident memory per
 * start. Queries ran no slower on the baseline code (their cost is mostly the JavaScript
 * around each query; docs/startup.md has the figures), so the optimizing tier is switched
 * off before the module is compiled. The flag concerns WebAssembly only.
 */
function baselineWasmOnly(): void {
  setFlagsFromString('--liftoff-only');
}

async function createPglite(dataDir: string | undefined, noTemplate: boolean): Promise<Database> {
  baselineWasmOnly();
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  const { pgliteStartParams, seedFromTemplate } = await import('./pgliteTemplate.js');
  const inMemory = dataDir === undefined || dataDir.startsWith('memory://');
  if (!inMemory && !(!noTemplate && seedFromTemplate(dataDir))) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(inMemory ? undefined : dataDir, { startParams: await pgliteStartParams() });
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    async migrate() {
      if (await upToDate(client)) return;
      await migrate(drizzle(client, { schema }), { migrationsFolder: MIGRATIONS_DIR });
    },
    close: () => client.close(),
  };
}

/**
 * Whether the embedded database already has the newest migration of drizzle/: one query
 * instead of drizzle's check, which reads and hashes every migration file and runs its DDL
 * (`create schema if not exists`, `create table if not exists`) on every start. Same rule
 * as drizzle's (a migration applies when it is newer than the newest one recorded); any
 * doubt (no table yet, an unreadable journal) answers false and drizzle decides.
 */
async function upToDate(client: { query<T>(sql: string): Promise<{ rows: T[] }> }): Promise<boolean> {
  try {
    const journal = JSON.parse(readFileSync(`${MIGRATIONS_DIR}/meta/_journal.json`, 'utf8')) as { entries: { when: number }[] };
    const newest = Math.max(...journal.entries.map((e) => e.when));
    const { rows } = await client.query<{ created_at: string | number }>(
      'select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1',
    );
    return rows.length === 1 && Number.isFinite(newest) && Number(rows[0]!.created_at) >= newest;
  } catch {
    return false;
  }
}

/** Cheap liveness probe used by /health/ready. */
export async function ping(db: Db): Promise<void> {
  await db.execute(dsql`select 1`);
}
