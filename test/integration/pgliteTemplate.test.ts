// The embedded database's first start from the template `npm run build` makes: a copy of a
// migrated data directory, used only for an empty one, only from the same PGlite version.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase } from '../../src/db/client.js';
import { buildTemplate, seedFromTemplate } from '../../src/db/pgliteTemplate.js';
import { rowsOf } from '../../src/store/runs.js';

let base: string;
let template: string;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'flotilla-template-test-'));
  template = join(base, 'template');
  await buildTemplate(template);
}, 120_000);
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

it('the template is a migrated data directory with a stamp naming the PGlite version', () => {
  expect(readdirSync(template)).toContain('PG_VERSION');
  const stamp = JSON.parse(readFileSync(join(template, 'flotilla-template.json'), 'utf8')) as { pglite: string };
  expect(stamp.pglite).toMatch(/^\d+\.\d+\.\d+/);
});

it('an empty or missing data dir is filled from it and opens with every table, nothing left to migrate', async () => {
  const missing = join(base, 'missing', 'data');
  const empty = join(base, 'empty');
  mkdirSync(empty);
  for (const dir of [missing, empty]) {
    expect(seedFromTemplate(dir, template)).toBe(true);
    expect(readdirSync(dir)).not.toContain('flotilla-template.json');
    expect(readdirSync(join(dir, '..')).filter((n) => n.includes('.seeding-'))).toEqual([]);
    const database = await createDatabase({ dataDir: dir });
    try {
      const applied = rowsOf<{ n: number }>(await database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`))[0]!.n;
      await database.migrate();
      const after = rowsOf<{ n: number }>(await database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`))[0]!.n;
      expect(after).toBe(applied);
      await database.db.execute(sql`select 1 from runs limit 0`);
    } finally {
      await database.close();
    }
  }
}, 120_000);

it('a data dir that holds anything is left alone', () => {
  const used = join(base, 'used');
  mkdirSync(used);
  writeFileSync(join(used, 'something'), 'x');
  expect(seedFromTemplate(used, template)).toBe(false);
  expect(readdirSync(used)).toEqual(['something']);
});

it('a template of another PGlite version, or none, is not used', () => {
  const other = join(base, 'other-template');
  mkdirSync(other);
  writeFileSync(join(other, 'PG_VERSION'), '17\n');
  writeFileSync(join(other, 'flotilla-template.json'), JSON.stringify({ pglite: '0.0.1' }));
  expect(seedFromTemplate(join(base, 'fresh-1'), other)).toBe(false);
  expect(seedFromTemplate(join(base, 'fresh-2'), join(base, 'no-such-template'))).toBe(false);
  expect(readdirSync(base)).not.toContain('fresh-1');
});
