// Templates over GraphQL: the Template type, templates/template queries, createTemplate,
// executeTemplate with its typed payload error, and template runs in `runs` with their
// executable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const name = `gql-${Math.random().toString(16).slice(2, 8)}`;
const CREATE = `mutation($input: CreateTemplateInput!) {
  createTemplate(input: $input) {
    __typename
    ... on CreateTemplateSuccess { created template { id templateId templateName version schema defaults memory cpu adaptiveResourceAllocation commandTemplate } }
    ... on ValidationError { message fields { path message } }
  }
}`;
const EXECUTE = `mutation($id: ID, $name: String, $version: String, $payload: JSON, $dryRun: Boolean, $input: ExecuteInput!) {
  executeTemplate(templateId: $id, templateName: $name, version: $version, payload: $payload, dryRun: $dryRun, input: $input) {
    __typename
    ... on ExecuteTemplateSuccess { run { runId command executableType status executable { __typename ... on Template { templateId version } } } }
    ... on TemplatePayloadError { message code fields { path message } }
    ... on ValidationError { message fields { path message } }
    ... on NotFoundError { message }
  }
}`;
const input = {
  templateName: name,
  schema: { type: 'object', properties: { n: { type: 'integer', maximum: 10 } }, required: ['n'] },
  commandTemplate: 'echo {{.n}}',
  defaults: { n: 1 },
  image: 'alpine:3',
};

describe('GraphQL templates', () => {
  let templateId: string;

  it('createTemplate: version 1, then the same is not created, a change is version 2', async () => {
    const first = await t.gql(CREATE, { input });
    expect(first.errors).toBeUndefined();
    const r = first.data.createTemplate;
    expect(r.__typename).toBe('CreateTemplateSuccess');
    expect(r).toMatchObject({
      created: true,
      template: { templateName: name, version: 1, memory: 512, cpu: 256, adaptiveResourceAllocation: true, defaults: { n: 1 } },
    });
    templateId = r.template.templateId;
    expect(r.template.id).toBe(Buffer.from(`Template:${templateId}`).toString('base64'));
    const node = await t.gql(`query($id: ID!) { node(id: $id) { ... on Template { templateId } } }`, { id: r.template.id });
    expect(node.data.node).toEqual({ templateId });
    const again = (await t.gql(CREATE, { input })).data.createTemplate;
    expect(again).toMatchObject({ created: false, template: { templateId } });
    const v2 = (await t.gql(CREATE, { input: { ...input, commandTemplate: 'echo v2 {{.n}}' } })).data.createTemplate;
    expect(v2).toMatchObject({ created: true, template: { version: 2 } });
  });

  it('createTemplate refuses bad input as a ValidationError naming the field', async () => {
    const bad = (await t.gql(CREATE, { input: { ...input, commandTemplate: 'echo {{.n' } })).data.createTemplate;
    expect(bad).toEqual({
      __typename: 'ValidationError',
      message: 'input.commandTemplate line 1, column 6: unclosed action: "{{" without "}}"',
      fields: [{ path: ['input', 'commandTemplate'], message: 'input.commandTemplate line 1, column 6: unclosed action: "{{" without "}}"' }],
    });
  });

  it('templates lists the newest of each name; latestOnly: false every version; template(id)', async () => {
    const q = `query($latest: Boolean) { templates(latestOnly: $latest, first: 500) { totalCount edges { node { templateName version } } } }`;
    const latest = (await t.gql(q, {})).data.templates;
    expect(latest.edges.filter((e: any) => e.node.templateName === name).map((e: any) => e.node.version)).toEqual([2]);
    const all = (await t.gql(q, { latest: false })).data.templates;
    expect(
      all.edges
        .filter((e: any) => e.node.templateName === name)
        .map((e: any) => e.node.version)
        .sort(),
    ).toEqual([1, 2]);
    const one = (await t.gql(`query($id: ID!) { template(templateId: $id) { templateId version commandTemplate } }`, { id: templateId })).data.template;
    expect(one).toEqual({ templateId, version: 1, commandTemplate: 'echo {{.n}}' });
    expect((await t.gql(`query { template(templateId: "tpl-none") { templateId } }`)).data.template).toBeNull();
  });

  it('executeTemplate by id and by name; the run has its executable; dryRun stores nothing', async () => {
    const byId = (await t.gql(EXECUTE, { id: templateId, payload: { n: 7 }, input: { owner: 'gql' } })).data.executeTemplate;
    expect(byId.__typename).toBe('ExecuteTemplateSuccess');
    expect(byId.run).toMatchObject({
      command: 'echo 7',
      executableType: 'template',
      status: 'QUEUED',
      executable: { __typename: 'Template', templateId, version: 1 },
    });
    const byName = (await t.gql(EXECUTE, { name, input: { owner: 'gql' } })).data.executeTemplate;
    expect(byName.run).toMatchObject({ command: 'echo v2 1', executable: { version: 2 } });
    const dry = (await t.gql(EXECUTE, { name, version: '1', dryRun: true, payload: { n: 3 }, input: { owner: 'gql' } })).data.executeTemplate;
    expect(dry.run.command).toBe('echo 3');
    expect((await t.gql(`query($id: ID!) { run(runId: $id) { runId } }`, { id: dry.run.runId })).data.run).toBeNull();

    // Template runs are in `runs`, with their executable; a definition run's is its TaskDefinition.
    const def = await createDefinition(t.services, { command: 'echo d' });
    await t.services.runs.execute({ definitionId: def.definitionId }, { owner: 'gql' });
    const runs = (
      await t.gql(
        `query { runs(first: 500, filter: { owner: "gql" }) { edges { node { runId executableType executable { __typename ... on Template { templateName } ... on TaskDefinition { definitionId } } } } } }`,
      )
    ).data.runs.edges.map((e: any) => e.node);
    expect(runs.find((r: any) => r.runId === byId.run.runId)).toMatchObject({
      executableType: 'template',
      executable: { __typename: 'Template', templateName: name },
    });
    expect(runs.find((r: any) => r.executableType === 'task_definition')).toMatchObject({
      executable: { __typename: 'TaskDefinition', definitionId: def.definitionId },
    });
  });

  it('a payload that fails the schema is a TemplatePayloadError listing each path', async () => {
    const r = (await t.gql(EXECUTE, { id: templateId, payload: { n: 11 }, input: { owner: 'gql' } })).data.executeTemplate;
    expect(r).toEqual({
      __typename: 'TemplatePayloadError',
      code: 'VALIDATION',
      message: 'payload.n: must be <= 10',
      fields: [{ path: ['payload', 'n'], message: 'payload.n: must be <= 10' }],
    });
    const notObject = (await t.gql(EXECUTE, { id: templateId, payload: [1], input: { owner: 'gql' } })).data.executeTemplate;
    expect(notObject).toMatchObject({ __typename: 'TemplatePayloadError', message: 'payload must be a JSON object' });
  });

  it('other failures keep their types: neither or both ids → ValidationError; unknown → NotFoundError', async () => {
    expect((await t.gql(EXECUTE, { input: { owner: 'x' } })).data.executeTemplate).toMatchObject({
      __typename: 'ValidationError',
      message: 'executeTemplate takes exactly one of templateId or templateName',
    });
    expect((await t.gql(EXECUTE, { id: 'tpl-x', input: { owner: 'x' } })).data.executeTemplate).toEqual({
      __typename: 'NotFoundError',
      message: 'Template with ID tpl-x not found',
    });
    expect((await t.gql(EXECUTE, { name: 'nope', version: '3', input: { owner: 'x' } })).data.executeTemplate).toEqual({
      __typename: 'NotFoundError',
      message: 'Template with name nope and version 3 not found',
    });
  });
});
