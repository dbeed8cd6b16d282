// A dropped connection mid-run: the server is restarted on the same port and data dir
// while the page follows a run's log. The page shows the lost-connection banner, then
// resumes from its last cursor; in the end every line is there exactly once, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { type ConsoleSession, defineAndRun, type DevServer, HAVE_CHROMIUM, openConsole, screenshot, SKIP_REASON, startDev } from './console.js';

if (!HAVE_CHROMIUM) console.warn(SKIP_REASON);

const LINES = 400;
// About 16 s of output: long enough to restart the server in the middle of it.
const COMMAND = `for i in $(seq 1 ${LINES}); do echo "n $i"; sleep 0.04; done`;

describe.skipIf(!HAVE_CHROMIUM)('log view across a server restart (Chromium)', () => {
  let session: ConsoleSession;
  let server: DevServer;
  let page: Page;

  beforeAll(async () => {
    session = await openConsole('reconnect', { permissions: ['clipboard-read', 'clipboard-write'] });
    ({ server, page } = session);
  }, 180_000);

  afterAll(() => session?.close(), 60_000);

  it('resumes after the restart with every line exactly once', async () => {
    const runId = await defineAndRun(server.url, 'paced', COMMAND);
    await page.goto(`${server.url}/runs/${runId}`);
    await page.locator('.log-line', { hasText: /^\d+n 20$/ }).waitFor();

    const { port, dataDir } = server;
    await server.stop();
    await page.locator('.banner-warning', { hasText: 'Connection to the server lost' }).waitFor();
    const before = Number(await page.locator('.log-scroll').getAttribute('data-lines'));
    await screenshot(page, 'reconnect-banner');
    server = session.server = await startDev(dataDir, port);

    // The run went on without the server; the page catches up and follows it to the end.
    await expect.poll(() => page.locator('.page-head .badge').textContent(), { timeout: 60_000 }).toBe('SUCCESS');
    await expect.poll(() => page.locator('.log-scroll').getAttribute('data-state'), { timeout: 30_000 }).toBe('complete');
    expect(await page.locator('.banner-warning').count()).toBe(0);
    await page.getByRole('button', { name: 'Copy' }).click();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    const expected = Array.from({ length: LINES }, (_, i) => `n ${i + 1}`).join('\n');
    console.log(`reconnect: ${before} lines before the restart, ${copied.split('\n').length} after`);
    expect(before).toBeGreaterThanOrEqual(20);
    expect(before).toBeLessThan(LINES);
    expect(copied).toBe(expected);
    expect(await page.locator('.log-scroll').getAttribute('data-lines')).toBe(String(LINES));
    await screenshot(page, 'reconnect-complete');
  }, 240_000);
});
