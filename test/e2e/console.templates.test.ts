// The console's Templates page in Chromium: the list, the chosen template's JSON Schema as a
// form (@rjsf/core) with its defaults, a dry run that shows the rendered command, a payload
// the schema refuses, and a run that opens the run page and succeeds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { type ConsoleSession, type DevServer, gql, HAVE_CHROMIUM, openConsole, screenshot, SKIP_REASON } from './console.js';

if (!HAVE_CHROMIUM) console.warn(SKIP_REASON);

describe.skipIf(!HAVE_CHROMIUM)('Templates page (Chromium)', () => {
  let session: ConsoleSession;
  let server: DevServer;
  let page: Page;
  let templateId: string;

  beforeAll(async () => {
    session = await openConsole('templates');
    ({ server, page } = session);
    const created = await gql<{ createTemplate: { template: { templateId: string } } }>(
      server.url,
      `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { ... on CreateTemplateSuccess { template { templateId } } } }`,
      {
        input: {
          templateName: 'greet',
          schema: {
            type: 'object',
            properties: { who: { type: 'string', title: 'Who' }, times: { type: 'integer', title: 'Times', maximum: 5 } },
            required: ['who'],
          },
          commandTemplate: 'for i in $(seq {{.times}}); do echo "hello {{.who | upper}}"; done',
          defaults: { who: 'world', times: 2 },
          image: 'alpine:3',
        },
      },
    );
    templateId = created.createTemplate.template.templateId;
  }, 120_000);

  afterAll(() => session?.close(), 60_000);

  it('lists templates, shows the schema as a form with the defaults, dry-runs and runs', async () => {
    await page.goto(`${server.url}/templates`);
    await page.getByRole('link', { name: 'greet' }).click();
    await page.waitForURL((u) => u.pathname === `/templates/${templateId}`);
    const who = page.getByLabel('Who');
    await expect.poll(() => who.inputValue()).toBe('world');
    await page.locator('input[name=owner]').fill('e2e');

    await who.fill('flotilla');
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByRole('status').getByText('for i in $(seq 2); do echo "hello FLOTILLA"; done').waitFor();

    // The server's schema check (the form's own is only at submit): a TemplatePayloadError.
    await page.getByLabel('Times').fill('9');
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByRole('alert').getByText('payload.times: must be <= 5').waitFor();

    await page.getByLabel('Times').fill('3');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/runs/'));
    const runId = decodeURIComponent(new URL(page.url()).pathname.split('/runs/')[1]!);
    await expect
      .poll(
        async () =>
          (
            await gql<{ run: { status: string; exitCode: number | null } }>(server.url, `query($id: ID!) { run(runId: $id) { status exitCode } }`, {
              id: runId,
            })
          ).run,
        { timeout: 30_000 },
      )
      .toEqual({ status: 'STOPPED', exitCode: 0 });
    await page.getByText('hello FLOTILLA').first().waitFor();
    // The run page says why the run got its resources.
    await page.getByText('memory 512 MB: the template; cpu 256: the template').waitFor();
    console.log(`screenshot: ${await screenshot(page, 'console-template-run')}`);
  }, 120_000);
});
