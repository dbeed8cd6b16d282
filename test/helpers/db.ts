// A fresh, migrated database for one test file: a clone of the template on real Postgres
// (TEST_DATABASE_URL), else an in-memory PGlite.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createDatabase, type Database } from '../../src/db/client.js';
import { TEMPLATE_DB, TEST_DATABASE_URL, withDatabase } from './env.js';

export interface TestDatabase extends Database {
  /** Connection URL of this file's database (real Postgres only), for child processes. */
  url?: string;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (!TEST_DATABASE_URL) {
    const database = await createDatabase({});
    await database.migrate();
    return database;
  }
  const name = `flotilla_t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DB}`);
        break;
      } catch (err) {
        // Two files cloning the template at the same instant collide; try again shortly.
        if (attempt > 20 || !/being accessed by other users/.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  const url = withDatabase(TEST_DATABASE_URL, name);
  const database = await createDatabase({ url, max: 5 });
  return {
    ...database,
    url,
    async close() {
      await database.close();
      const drop = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
      await drop.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await drop.end();
    },
  };
}
