// List filters live in the URL, and the router commits a URL change in a transition that can
// land well after the click on a busy machine. The control must show the click at once all the
// same: a controlled checkbox that springs back until then reads as "my click did nothing".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { type ConsoleSession, type DevServer, HAVE_CHROMIUM, openConsole, SKIP_REASON } from './console.js';

if (!HAVE_CHROMIUM) console.warn(SKIP_REASON);

describe.skipIf(!HAVE_CHROMIUM)('list filters (Chromium)', () => {
  let session: ConsoleSession;
  let server: DevServer;
  let page: Page;

  beforeAll(async () => {
    session = await openConsole('filters');
    ({ server, page } = session);
  }, 180_000);

  afterAll(() => session?.close(), 60_000);

  it('shows a status box checked in the same task as the click, then keeps it in the URL', async () => {
    await page.goto(`${server.url}/runs`);
    await page.getByLabel('STOPPED').waitFor();
    // Click and read back in one task of the page: nothing the router defers has run yet.
    const checkedAtOnce = await page.evaluate(() => {
      const box = [...document.querySelectorAll('label.check')].find((l) => l.textContent?.trim() === 'STOPPED')?.querySelector('input');
      if (!box) throw new Error('no STOPPED checkbox');
      box.click();
      return box.checked;
    });
    expect(checkedAtOnce).toBe(true);
    await page.waitForURL(/status=/);
    expect(new URL(page.url()).searchParams.get('status')?.split(',')).toContain('STOPPED');
    expect(await page.getByLabel('STOPPED').isChecked()).toBe(true);

    // Typing into a text filter keeps every character, in order.
    await page.getByLabel('Owner').pressSequentially('someone', { delay: 0 });
    await page.waitForURL(/owner=someone/);
    expect(await page.getByLabel('Owner').inputValue()).toBe('someone');

    // Back goes to the URL before the owner was typed, and the form follows the URL.
    await page.goBack();
    await expect.poll(() => page.getByLabel('STOPPED').isChecked()).toBe(false);
  });
});
