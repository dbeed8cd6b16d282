// Signing the console in with FLOTILLA_AUTH=token, in Chromium: the sign-in page first, a
// refused token says so, a good one shows who is signed in, and the role's limits show
// (a viewer sees no "New task", "Run" or cluster buttons). Sign out goes back to the page.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { type ConsoleSession, type DevServer, HAVE_CHROMIUM, openConsole, screenshot, SKIP_REASON } from './console.js';

if (!HAVE_CHROMIUM) console.warn(SKIP_REASON);

const BIN = fileURLToPath(new URL('../../bin/flotilla.js', import.meta.url));

describe.skipIf(!HAVE_CHROMIUM)('console sign-in (Chromium, FLOTILLA_AUTH=token)', () => {
  let session: ConsoleSession;
  let server: DevServer;
  let page: Page;
  let viewerToken: string;

  beforeAll(async () => {
    session = await openConsole('signin', {
      env: { FLOTILLA_AUTH: 'token' },
      timeoutMs: 20_000,
      // The embedded database takes one process at a time: the token is made before dev starts.
      beforeStart: (dataDir) => {
        const made = spawnSync(process.execPath, [BIN, 'token', 'create', '--owner', 'vera@example.com', '--role', 'viewer'], {
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', FLOTILLA_DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
          encoding: 'utf8',
        });
        expect(made.status, made.stderr).toBe(0);
        viewerToken = made.stdout.trim();
      },
    });
    ({ server, page } = session);
  }, 180_000);

  afterAll(() => session?.close(), 60_000);

  it('asks for a token, refuses a bad one, then shows who is signed in and hides what a viewer may not do', async () => {
    await page.goto(`${server.url}/tasks`);
    await page.getByRole('heading', { name: 'Sign in to Flotilla' }).waitFor();
    await page.locator('textarea[name=token]').fill('flt_nope_nope');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor();

    await page.locator('textarea[name=token]').fill(viewerToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.signed-in').filter({ hasText: 'vera@example.com' }).waitFor();
    expect(await page.locator('.signed-in').textContent()).toContain('(viewer)');
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    expect(await page.getByRole('link', { name: 'New task' }).count()).toBe(0);
    await page.goto(`${server.url}/clusters`);
    await page.getByRole('heading', { name: 'Clusters' }).waitFor();
    expect(await page.getByRole('button', { name: 'New cluster' }).count()).toBe(0);
    await screenshot(page, 'sign-in-viewer');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Flotilla' }).waitFor();
  });
});
