// GraphiQL with no internet: real Chromium, every request to a host other than the
// server refused, must render the editor and run a query. The page used to load GraphiQL
// from a public CDN and showed nothing offline.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { serveTestApp, type ServedApp } from '../helpers/live.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`graphiql.browser.test: skipped, no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);

describe.skipIf(!haveChromium)('GraphiQL offline', () => {
  let t: TestApp;
  let served: ServedApp;
  let browser: Browser;
  beforeAll(async () => {
    t = await createTestApp();
    served = await serveTestApp(t);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await served?.close();
    await t?.close();
  });

  it('renders the editor and runs a query with every other host cut off', async () => {
    const context = await browser.newContext();
    const refused: string[] = [];
    const origin = new URL(served.url).origin;
    await context.route('**/*', (route) => {
      const requestUrl = route.request().url();
      // blob: and data: URLs (the editor's web workers) are local too.
      if (requestUrl.startsWith(origin) || /^(blob|data):/.test(requestUrl)) return route.continue();
      refused.push(requestUrl);
      return route.abort('internetdisconnected');
    });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`${served.url}/graphql?query=${encodeURIComponent('{ health }')}`, { waitUntil: 'load', timeout: 60_000 });
    await page.locator('.graphiql-container').first().waitFor({ timeout: 60_000 });
    await page.locator('.graphiql-execute-button').first().click();
    await expect
      .poll(async () => ((await page.locator('.graphiql-response').first().textContent()) ?? '').replace(/\s+/g, ' '), { timeout: 30_000 })
      .toContain('"health": "healthy"');
    expect(refused).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  }, 120_000);
});
