// A job's output is bytes: a NUL, invalid UTF-8, a lone carriage return, a 50 MB line and
// a megabyte of random binary must not cost the lines around them, neither live (the
// runLogs subscription) nor stored (REST raw log). Runs on the local engine with the
// worker loops in-process; the docker engine's path is covered in docker.api.test.ts.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskDefinitionRow } from '../../src/db/schema.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition } from '../helpers/factories.js';
import { record, serveTestApp, wsClient, type ServedApp } from '../helpers/live.js';

let t: TestApp;
let served: ServedApp;
let def: TaskDefinitionRow;

const LOGS = `subscription($id: ID!) { runLogs(runId: $id) { seq stream text } }`;

beforeAll(async () => {
  t = await createTestApp({}, { engines: 'local', workers: true });
  served = await serveTestApp(t);
  def = await createDefinition(t.services, { alias: 'bytes', command: 'true' });
});
afterAll(async () => {
  await served?.close();
  await t?.close();
});

async function runAndRead(command: string): Promise<{ stored: string; live: string; events: string[] }> {
  const res = await t.fetch(`/api/v6/task/${def.definitionId}/execute`, { method: 'PUT', json: { command, run_tags: { owner_id: 'bytes' } } });
  expect(res.status).toBe(200);
  const runId = ((await res.json()) as { run_id: string }).run_id;
  const client = wsClient(served.wsUrl);
  try {
    const sub = record<{ runLogs: { text: string } }>(client, LOGS, { id: runId });
    await expect
      .poll(
        async () => {
          const row = await t.services.runs.get(runId);
          return row.status === 'STOPPED' && row.logsComplete;
        },
        { timeout: 60_000, interval: 100 },
      )
      .toBe(true);
    await sub.completed;
    const live = sub.payloads.map((p) => p.data!.runLogs.text).join('');
    const stored = await (await t.fetch(`/api/v6/${runId}/logs?raw_text=true`)).text();
    const ev = await t.gql<{ run: { events: { kind: string; reason: string | null }[] } }>(`query($id: ID!) { run(id: $id) { events { kind reason } } }`, {
      id: runId,
    });
    expect(ev.errors).toBeUndefined();
    const events = (ev.data?.run.events ?? []).map((e) => `${e.kind}: ${e.reason ?? ''}`);
    return { stored, live, events };
  } finally {
    await client.dispose();
  }
}

function expectAround(text: string): void {
  expect(text).toMatch(/^before\n/);
  expect(text).toMatch(/\nafter\n$/);
}

describe('output that is not plain text', () => {
  it('a NUL byte: the lines before and after are kept, the NUL is replaced by U+FFFD', async () => {
    const { stored, live } = await runAndRead(`echo before; printf 'a\\000b\\n'; echo after`);
    for (const text of [stored, live]) expect(text).toBe('before\na\uFFFDb\nafter\n');
  });

  it('invalid UTF-8 is replaced by U+FFFD, the rest kept', async () => {
    const { stored, live } = await runAndRead(`echo before; printf 'x\\377\\376y\\n'; echo after`);
    for (const text of [stored, live]) expect(text).toBe('before\nx\uFFFD\uFFFDy\nafter\n');
  });

  it('a lone carriage return is kept as it is', async () => {
    const { stored, live } = await runAndRead(`echo before; printf 'progress 10%%\\rprogress 100%%\\n'; echo after`);
    for (const text of [stored, live]) expect(text).toBe('before\nprogress 10%\rprogress 100%\nafter\n');
  });

  it('a 50 MB line arrives, cut into 64 KiB lines, with the lines around it', async () => {
    const { stored, live } = await runAndRead(`echo before; head -c 50000000 /dev/zero | tr '\\0' x; echo; echo after`);
    for (const text of [stored, live]) {
      expectAround(text);
      const middle = text.slice('before\n'.length, -'after\n'.length);
      expect(middle.replaceAll('\n', '')).toBe('x'.repeat(50_000_000));
    }
  }, 180_000);

  it('1 MB of /dev/urandom: every line around it arrives', async () => {
    const { stored, live } = await runAndRead(`echo before; head -c 1000000 /dev/urandom; echo; echo after`);
    for (const text of [stored, live]) {
      expectAround(text);
      expect(text).not.toContain('\u0000');
    }
    expect(stored).toBe(live);
  }, 60_000);
});

describe('a line the database refuses', () => {
  // A real refusal: a trigger in the test database raises a data exception (22021) for one
  // line, the way an encoding or size check would. It is dropped after the test.
  beforeAll(async () => {
    await t.database.db.execute(
      sql.raw(`
      create or replace function refuse_poison() returns trigger language plpgsql as $$
      begin
        if new.text like '%POISON%' then raise exception 'refused: poison' using errcode = '22021'; end if;
        return new;
      end $$`),
    );
    await t.database.db.execute(sql.raw(`create trigger refuse_poison before insert on run_logs for each row execute function refuse_poison()`));
  });
  afterAll(async () => {
    await t.database.db.execute(sql.raw(`drop trigger if exists refuse_poison on run_logs`));
    await t.database.db.execute(sql.raw(`drop function if exists refuse_poison()`));
  });

  it('becomes a marker line and a warning event; the lines before and after it are stored; no endless retry', async () => {
    const started = Date.now();
    const { stored, live, events } = await runAndRead(`echo before; echo POISON; echo after`);
    expect(stored).toMatch(/^before\n\[flotilla: 7 bytes of stdout could not be stored after 3 tries: .*poison.*\]\nafter\n$/);
    // Live chunks are delivered as they are read, before the store refuses a line, so a
    // follower that was there saw the line as the job wrote it; one that joined later reads
    // the stored text. Either way every line around it, once, in order.
    expect(['before\nPOISON\nafter\n', stored]).toContain(live);
    expect(events.filter((e) => e.startsWith('WARNING: 7 bytes of stdout could not be stored'))).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);
});
