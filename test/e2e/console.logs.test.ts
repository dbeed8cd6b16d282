// The log view under a big log: a run printing 200,000 lines in bursts while the page
// watches. The last line shows within 2 s of the run ending, no main-thread task takes
// over 200 ms while lines stream in (PerformanceObserver in the page), and after scrolling
// to the top a search for a line finds it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { type ConsoleSession, defineAndRun, type DevServer, gql, HAVE_CHROMIUM, openConsole, screenshot, SKIP_REASON } from './console.js';

if (!HAVE_CHROMIUM) console.warn(SKIP_REASON);

const LINES = 200_000;
// 200 bursts of 1,000 lines, ~25 ms apart: the page receives them as the run goes.
const COMMAND = `for b in $(seq 0 199); do seq $((b*1000+1)) $((b*1000+1000)) | sed 's/^/line /'; sleep 0.025; done`;

declare global {
  interface Window {
    __longTasks: [start: number, duration: number][];
    __firstLineAt?: number;
    __lastLineAt?: number;
  }
}

describe.skipIf(!HAVE_CHROMIUM)('log view with 200,000 lines (Chromium)', () => {
  let session: ConsoleSession;
  let server: DevServer;
  let page: Page;

  beforeAll(async () => {
    session = await openConsole('logs');
    ({ server, page } = session);
    // Installed before the app's scripts: every long task of the page is recorded.
    await page.addInitScript(() => {
      window.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
      }).observe({ type: 'longtask', buffered: true });
    });
  }, 180_000);

  afterAll(() => session?.close(), 60_000);

  it('streams, shows the last line promptly, stays responsive and searches', async () => {
    const runId = await defineAndRun(server.url, 'many-lines', COMMAND);
    await page.goto(`${server.url}/runs/${runId}`);
    await page.locator('.log-scroll').waitFor();

    // The page notes when the last line is on screen (checked every frame, in the page).
    await page.evaluate((last) => {
      const check = () => {
        const row = [...document.querySelectorAll('.log-line .text')].find((el) => el.textContent === last);
        if (window.__firstLineAt === undefined && document.querySelector('.log-line')) window.__firstLineAt = performance.now();
        if (row) window.__lastLineAt = Date.now();
        else requestAnimationFrame(check);
      };
      requestAnimationFrame(check);
    }, `line ${LINES}`);

    let finishedAt: string | null = null;
    for (let i = 0; i < 240 && !finishedAt; i++) {
      const r = await gql<{ run: { status: string; finishedAt: string | null } }>(server.url, `query($id: ID!) { run(id: $id) { status finishedAt } }`, {
        id: runId,
      });
      if (r.run.status === 'STOPPED') finishedAt = r.run.finishedAt;
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(finishedAt).not.toBeNull();
    await page.waitForFunction(() => window.__lastLineAt !== undefined, undefined, { timeout: 30_000 });
    const lastLineAt = await page.evaluate(() => window.__lastLineAt ?? 0);
    const lagMs = lastLineAt - Date.parse(finishedAt ?? '');
    // The page's own start-up (parsing the bundle, first render) is before the first line.
    const longTasks = await page.evaluate(() => window.__longTasks.filter(([start]) => start >= (window.__firstLineAt ?? 0)).map(([, d]) => d));
    const maxLongTask = Math.max(0, ...longTasks);
    console.log(
      `200,000 lines: last line shown ${lagMs} ms after the run ended; while streaming, longest main-thread task ${Math.round(maxLongTask)} ms (${longTasks.length} tasks over 50 ms)`,
    );
    await expect.poll(() => page.locator('.log-scroll').getAttribute('data-lines')).toBe(String(LINES));
    await screenshot(page, 'logs-200k-end');
    expect(lagMs).toBeLessThan(2000);
    expect(maxLongTask).toBeLessThan(200);

    // Scroll to the top, then search for a line far down.
    await page.locator('.log-scroll').focus();
    await page.keyboard.press('Home');
    await expect.poll(() => page.locator('.log-scroll').evaluate((el) => el.scrollTop)).toBe(0);
    await page.locator('.log-line', { hasText: /^1line 1$/ }).waitFor();
    await expect.poll(() => page.getByLabel('Follow').isChecked()).toBe(false);
    const started = Date.now();
    await page.getByLabel('Search the log').fill('line 123456');
    await page.getByLabel('Search the log').press('Enter');
    const hit = page.locator('.log-line.match');
    await hit.waitFor();
    console.log(`search across ${LINES} lines: ${Date.now() - started} ms to the match`);
    expect(await hit.textContent()).toBe('123456line 123456');
    // In view inside the log, not just somewhere in the page.
    const [hitBox, logBox] = [await hit.boundingBox(), await page.locator('.log-scroll').boundingBox()];
    expect(hitBox && logBox && hitBox.y >= logBox.y && hitBox.y + hitBox.height <= logBox.y + logBox.height).toBe(true);
    expect(await page.locator('.search-note').textContent()).toBe('Line 123456');
    await screenshot(page, 'logs-200k-search');
  }, 240_000);
});
