// Signing the console in with FLOTILLA_AUTH=token, in Chromium: the sign-in page first, a
// refused token says so, a good one shows who is signed in, and the role's limits show
// (a viewer sees no "New task", "Run" or cluster buttons). Sign out goes back to the page.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { HAVE_CHROMIUM, SKIP_REASON, ensureConsoleBuilt, launchChromium, screenshot, startDev, tempDataDir, type DevServer } from './console.js';

if (!HAVE_CHROMIUM) console.warn(SKIP_REASON);

const BIN = fileURLToPath(new URL('../../bin/flotilla.js', import.meta.url));

describe.skipIf(!HAVE_CHROMIUM)('console sign-in (Chromium, FLOTILLA_AUTH=token)', () => {
  let server: DevServer;
  let data: ReturnType<typeof tempDataDir>;
  let browser: Browser;
  let page: Page;
  let viewerToken: string;

  beforeAll(async () => {
    ensureConsoleBuilt();
    data = tempDataDir('signin');
    // The embedded database takes one process at a time: the token is made before dev starts.
    const made = spawnSync(process.execPath, [BIN, 'token', 'create', '--owner', 'vera@example.com', '--role', 'viewer'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', FLOTILLA_DATA_DIR: data.dir, LOG_LEVEL: 'silent' },
      encoding: 'utf8',
    });
    expect(made.status, made.stderr).toBe(0);
    viewerToken = made.stdout.trim();
    server = await startDev(data.dir, 0, 90_000, { FLOTILLA_AUTH: 'token' });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(20_000);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    data?.remove();
  }, 60_000);

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
