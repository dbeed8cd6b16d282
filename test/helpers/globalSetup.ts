// Once per `vitest run`: when TEST_DATABASE_URL is set, build a migrated template database
// that every test file clones (CREATE DATABASE … TEMPLATE), as graphile-worker does.
import postgres from 'postgres';
import { createDatabase } from '../../src/db/client.js';
import { randomBytes } from 'node:crypto';
import { TEST_DATABASE_URL, TEST_REDIS_URL, withDatabase } from './env.js';

export default async function setup(): Promise<(() => Promise<void>) | void> {
  if (TEST_REDIS_URL) {
    const { Redis } = await import('ioredis');
    const r = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    try {
      await r.connect();
      await r.ping();
    } catch (err) {
      throw new Error(
        `TEST_REDIS_URL=${TEST_REDIS_URL} does not answer (${(err as Error).message}). Start Redis: redis-server --daemonize yes --port 6379 --save "" --appendonly no`,
        {
          cause: err,
        },
      );
    } finally {
      r.disconnect();
    }
  }
  if (!TEST_DATABASE_URL) return;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await admin`select 1`;
  } catch (err) {
    await admin.end();
    throw new Error(
      `TEST_DATABASE_URL=${TEST_DATABASE_URL} does not answer (${(err as Error).message}).\n` +
        `Start Postgres (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or unset TEST_DATABASE_URL to test on PGlite.`,
      { cause: err },
    );
  }
  const TEMPLATE_DB = `flotilla_tpl_${randomBytes(4).toString('hex')}`;
  process.env.FLOTILLA_TEST_TEMPLATE = TEMPLATE_DB;
  await admin.unsafe(`CREATE DATABASE ${TEMPLATE_DB}`);
  await admin.end();
  const template = await createDatabase({ url: withDatabase(TEST_DATABASE_URL, TEMPLATE_DB), max: 1 });
  await template.migrate();
  await template.close();
  return async () => {
    const a = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
    await a.unsafe(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`).catch(() => {});
    await a.end();
  };
}
