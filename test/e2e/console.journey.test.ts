// One journey through every page of the console in real Chromium, against a real
// `flotilla dev` (embedded database in a temp folder, local engine): define a task (a
// validation error first), run it and watch lines arrive while RUNNING, stop a long run,
// retry, copy/edit/delete a task, filter runs and reload, open a line link, clusters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { type ConsoleSession, type DevServer, gql, HAVE_CHROMIUM, openConsole, screenshot, SKIP_REASON } from './console.js';

if (!HAVE_CHROMIUM) console.warn(SKIP_REASON);

const OWNER = 'yourusername';
// Slow enough that the first lines show while the run is still RUNNING.
const HELLO = 'echo hello $FLOTILLA_RUN_OWNER_ID; for i in $(seq 1 40); do echo "tick $i"; sleep 0.25; done';

describe.skipIf(!HAVE_CHROMIUM)('console journey (Chromium)', () => {
  let session: ConsoleSession;
  let server: DevServer;
  let page: Page;

  beforeAll(async () => {
    session = await openConsole('journey', { timeoutMs: 20_000 });
    ({ server, page } = session);
  }, 180_000);

  afterAll(() => session?.close(), 60_000);

  const badge = () => page.locator('.page-head .badge');

  it('walks through every page', async () => {
    // --- Tasks: the empty state, and how long the first paint takes on the embedded server.
    await page.goto(`${server.url}/`);
    await page.waitForURL('**/tasks');
    await expect.poll(() => page.getByText('No tasks yet.').isVisible()).toBe(true);
    const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1);
    console.log(`first contentful paint: ${Math.round(fcp)} ms`);
    expect(fcp).toBeGreaterThan(0);
    await screenshot(page, '01-tasks-empty');

    // --- Create a task: a bad group name is reported on the Group field first.
    await page.getByRole('link', { name: 'New task' }).click();
    await page.waitForURL('**/tasks/create');
    await page.getByLabel('Alias').fill('hello-world');
    await page.getByLabel('Group').fill('not a group!');
    await page.getByLabel('Image').fill('alpine');
    await page.getByLabel('Command').fill(HELLO);
    await page.getByRole('button', { name: 'Create task' }).click();
    const groupField = page.locator('.field', { has: page.getByLabel('Group') });
    await expect.poll(() => groupField.locator('.field-error').textContent()).toMatch(/group/i);
    expect(await page.getByLabel('Group').getAttribute('aria-invalid')).toBe('true');
    expect(
      await page
        .locator('.field', { has: page.getByLabel('Alias') })
        .locator('.field-error')
        .count(),
    ).toBe(0);
    await screenshot(page, '02-task-create-validation');
    await page.getByLabel('Group').fill('e2e');
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.waitForURL(/\/tasks\/e2e-[^/]+$/);
    const taskUrl = page.url();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('hello-world');
    expect(await page.locator('dd', { hasText: 'for i in' }).textContent()).toContain('echo hello');
    await screenshot(page, '03-task');

    // --- Run it; the owner is remembered; lines appear while the run is RUNNING.
    await page.getByRole('link', { name: 'Run', exact: true }).click();
    await page.waitForURL('**/execute');
    await page.getByLabel('Owner').fill(OWNER);
    await screenshot(page, '04-run-form');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/runs\/[^/]+$/);
    const firstRunUrl = page.url();
    await page.locator('.log-line', { hasText: `hello ${OWNER}` }).waitFor({ timeout: 30_000 });
    // The engine may report RUNNING just after the first lines; then lines keep coming.
    await expect.poll(() => badge().textContent(), { timeout: 10_000 }).toBe('RUNNING');
    const linesWhileRunning = Number(await page.locator('.log-scroll').getAttribute('data-lines'));
    expect(linesWhileRunning).toBeLessThan(41);
    await expect.poll(async () => Number(await page.locator('.log-scroll').getAttribute('data-lines'))).toBeGreaterThan(linesWhileRunning + 2);
    expect(await badge().textContent()).toBe('RUNNING');
    await screenshot(page, '05-run-running');
    await expect.poll(() => badge().textContent(), { timeout: 40_000 }).toBe('SUCCESS');
    expect(await page.getByTestId('outcome').textContent()).toMatch(/^Succeeded \(0\)/);
    await page.locator('.log-line', { hasText: 'tick 40' }).waitFor();
    expect(await page.locator('.log-status').textContent()).toContain('41 lines');
    await expect.poll(() => page.locator('.timeline').textContent()).toContain('RUNNING → STOPPED');
    // Wrap and timestamps toggle; the raw download is the REST raw_text log.
    await page.getByLabel('Timestamps').check();
    await expect.poll(() => page.locator('.log-line .ts').first().textContent()).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);
    await page.getByLabel('Wrap').check();
    expect(await page.locator('.log-scroll.wrap').count()).toBe(1);
    const raw = await page.getByRole('link', { name: 'Download raw' }).getAttribute('href');
    expect(raw).toMatch(/^\/api\/v6\/local-[^/]+\/logs\?raw_text=true$/);
    const rawText = await (await fetch(`${server.url}${raw}`)).text();
    expect(rawText.startsWith(`hello ${OWNER}\ntick 1\n`)).toBe(true);
    await screenshot(page, '06-run-success');
    await page.getByLabel('Timestamps').uncheck();
    await page.getByLabel('Wrap').uncheck();
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    // Keyboard: "/" goes to the log search; Home in the log goes to the first line.
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Search the log');
    await page.locator('.log-scroll').focus();
    await page.keyboard.press('Home');
    await expect.poll(() => page.locator('.log-scroll').evaluate((el) => el.scrollTop)).toBe(0);
    await expect.poll(() => page.getByLabel('Follow').isChecked()).toBe(false);
    expect(await page.locator('#L1').textContent()).toContain(`hello ${OWNER}`);
    const shot = await screenshot(page, '06-run-success-top');
    // UPDATE_DOCS_SCREENSHOT=1 refreshes the README's picture of the run page.
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
      mkdirSync('docs', { recursive: true });
      copyFileSync(shot, 'docs/console-run.png');
    }

    // --- Stop a long run from its page.
    await page.goto(`${taskUrl}/execute`);
    expect(await page.getByLabel('Owner').inputValue()).toBe(OWNER);
    await page.getByLabel('Command').fill('echo long run started; sleep 600');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/runs\/[^/]+$/);
    await page.locator('.log-line', { hasText: 'long run started' }).waitFor({ timeout: 30_000 });
    expect(await badge().textContent()).toBe('RUNNING');
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => badge().textContent(), { timeout: 30_000 }).toBe('FAILED');
    expect(await badge().getAttribute('data-status')).toBe('STOPPED');
    expect(await page.getByRole('button', { name: 'Stop' }).count()).toBe(0);
    await expect.poll(() => page.locator('.timeline').textContent()).toMatch(/→ STOPPED/);
    await screenshot(page, '07-run-stopped');

    // --- Retry the first run: the form is prefilled from it; a new run starts.
    await page.goto(firstRunUrl);
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.waitForURL(/\/execute\?fromRun=/);
    await expect.poll(() => page.getByLabel('Command').inputValue()).toBe(HELLO);
    expect(await page.getByText('Prefilled from run').isVisible()).toBe(true);
    await screenshot(page, '08-retry-form');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/runs\/[^/]+$/);
    expect(page.url()).not.toBe(firstRunUrl);
    await page.locator('.log-line', { hasText: `hello ${OWNER}` }).waitFor({ timeout: 30_000 });

    // --- Copy, edit and delete a task.
    await page.goto(taskUrl);
    await page.getByRole('link', { name: 'Copy' }).click();
    await page.waitForURL('**/copy');
    await expect.poll(() => page.getByLabel('Alias').inputValue()).toBe('hello-world-copy');
    expect(await page.getByLabel('Command').inputValue()).toBe(HELLO);
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.waitForURL(/\/tasks\/e2e-[^/]+$/);
    expect(page.url()).not.toBe(taskUrl);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('hello-world-copy');
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.waitForURL('**/update');
    await expect.poll(() => page.getByLabel('Image').inputValue()).toBe('alpine');
    await page.getByLabel('Image').fill('alpine:3.20');
    await screenshot(page, '09-task-edit');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForURL(/\/tasks\/e2e-[^/]+$/);
    await expect.poll(() => page.locator('dd.mono', { hasText: 'alpine:3.20' }).count()).toBe(1);
    expect(await page.locator('dd', { hasText: /^2, last updated/ }).count()).toBe(1);
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.textContent()).toContain('It has no runs.');
    await screenshot(page, '10-task-delete-confirm');
    await dialog.getByRole('button', { name: 'Delete task', exact: true }).click();
    await page.waitForURL(/\/tasks$/);
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    expect(await page.locator('tbody').textContent()).toContain('hello-world');
    // The original's delete dialog counts its three runs (then is cancelled).
    await page.goto(taskUrl);
    await page.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => page.getByRole('dialog').textContent()).toContain('Its 3 runs');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
    await expect.poll(() => page.locator('table tbody tr').count()).toBe(3);
    await screenshot(page, '11-task-with-runs');

    // --- Runs: active by default, live: a run started elsewhere appears, and leaves when it
    // stops. Then filter, and the URL brings the same view back on reload.
    await page.goto(`${server.url}/runs`);
    await expect.poll(async () => (await page.locator('main').textContent()) ?? '', { timeout: 30_000 }).toMatch(/No active runs right now|local-/);
    const started = await gql<{ executeTask: { run: { runId: string } } }>(
      server.url,
      `mutation($id: ID!) { executeTask(definitionId: $id, input: {owner: "someone-else", command: "sleep 3"}) { ... on ExecuteTaskSuccess { run { runId } } } }`,
      { id: decodeURIComponent(taskUrl.split('/').pop() ?? '') },
    );
    const liveRow = page.locator('tbody tr', { hasText: started.executeTask.run.runId });
    await liveRow.waitFor({ timeout: 15_000 });
    await screenshot(page, '12-runs-live');
    await liveRow.waitFor({ state: 'detached', timeout: 30_000 });
    await page.getByLabel('STOPPED').check();
    await page.getByLabel('Owner').fill(OWNER);
    await page.waitForURL(/owner=yourusername/);
    await expect.poll(() => page.locator('tbody tr').count(), { timeout: 30_000 }).toBe(3);
    expect(page.url()).toContain('status=');
    expect(await page.locator('tbody').textContent()).not.toContain('someone-else');
    const filteredUrl = page.url();
    await page.reload();
    expect(page.url()).toBe(filteredUrl);
    expect(await page.getByLabel('STOPPED').isChecked()).toBe(true);
    expect(await page.getByLabel('Owner').inputValue()).toBe(OWNER);
    await expect.poll(() => page.locator('tbody tr').count()).toBe(3);
    await page.getByRole('button', { name: /Queued/ }).click(); // sort by queued time, ascending
    await page.waitForURL(/sort=QUEUED_AT/);
    await expect.poll(() => page.locator('tbody tr').first().textContent()).toContain(firstRunUrl.split('/').pop() ?? '?');
    await screenshot(page, '13-runs-filtered');

    // --- A line link opens the run with that line selected and in view.
    await page.goto(`${firstRunUrl}#L3`);
    const line3 = page.locator('#L3');
    await line3.waitFor();
    expect(await line3.getAttribute('class')).toContain('selected');
    expect(await line3.textContent()).toContain('tick 2');
    expect(await line3.isVisible()).toBe(true);
    await page.locator('#L5 .ln').click({ modifiers: ['Shift'] });
    await expect.poll(() => new URL(page.url()).hash).toBe('#L3-L5');
    await screenshot(page, '14-run-line-link');

    // --- Clusters: the engine's cluster is listed; create one and edit its tiers.
    await page.goto(`${server.url}/clusters`);
    await page.locator('tbody tr', { hasText: 'local' }).first().waitFor();
    await page.getByRole('button', { name: 'New cluster' }).click();
    await page.getByLabel('Name', { exact: true }).fill('batch-pool');
    await page.getByLabel('Engine').selectOption('local');
    await page.getByRole('button', { name: 'Create cluster' }).click();
    const row = page.locator('tbody tr', { hasText: 'batch-pool' });
    await row.waitFor();
    await row.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Allowed tiers').fill('batch, nightly');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => row.textContent()).toContain('batch, nightly');
    await screenshot(page, '15-clusters');

    // --- An unknown run is a not-found page, not a blank one; and the dark theme.
    await page.goto(`${server.url}/runs/local-doesnotexist`);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Not found');
    await page.getByLabel('Theme').selectOption('dark');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.goto(firstRunUrl);
    await page.locator('.log-line', { hasText: 'tick 40' }).waitFor();
    await screenshot(page, '16-run-dark');
  }, 300_000);
});
