// The console against a server that runs registered operations only
// (FLOTILLA_GRAPHQL_PERSISTED=only, reading dist/web/persisted-operations.json): every
// query, mutation and subscription it sends is one the build registered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { type ConsoleSession, type DevServer, HAVE_CHROMIUM, openConsole, SKIP_REASON } from './console.js';

if (!HAVE_CHROMIUM) console.warn(SKIP_REASON);

describe.skipIf(!HAVE_CHROMIUM)('console with persisted operations only (Chromium)', () => {
  let session: ConsoleSession;
  let server: DevServer;
  let page: Page;

  beforeAll(async () => {
    session = await openConsole('persisted', { env: { FLOTILLA_GRAPHQL_PERSISTED: 'only' } });
    ({ server, page } = session);
  }, 180_000);

  afterAll(() => session?.close(), 60_000);

  it('defines, runs and follows a task', async () => {
    // An operation the console never sends is refused: the mode is really on.
    const refused = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ health }' }),
    });
    expect(JSON.stringify(await refused.json())).toContain('PERSISTED_QUERY_ONLY');

    await page.goto(`${server.url}/tasks/create`);
    await page.getByLabel('Alias').fill('persisted-hello');
    await page.getByLabel('Image').fill('alpine');
    await page.getByLabel('Command').fill('echo hello $FLOTILLA_RUN_OWNER_ID');
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.waitForURL(/\/tasks\/default-[^/]+$/);
    await page.getByRole('link', { name: 'Run', exact: true }).click();
    await page.getByLabel('Owner').fill('persisted');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/runs\/[^/]+$/);
    await page.locator('.log-line', { hasText: 'hello persisted' }).waitFor();
    await expect.poll(() => page.locator('.page-head .badge').textContent(), { timeout: 30_000 }).toBe('SUCCESS');
    await page.goto(`${server.url}/runs?status=STOPPED`);
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    expect(await page.locator('.state-error').count()).toBe(0);
  }, 120_000);
});
