// Executing a definition the way clients do, for tests that need a run: over REST (the
// classic body) or GraphQL (`executeTask`). Both fail the test unless the run was created.
import { expect } from 'vitest';
import type { TestApp } from './app.js';

/** `PUT /api/v6/task/{id}/execute` with `run_tags.owner_id` = `owner` (the body may override it); the run's JSON. */
export async function executeRest(
  t: Pick<TestApp, 'fetch'>,
  definitionId: string,
  body: Record<string, unknown> = {},
  owner = 'alice',
): Promise<Record<string, any>> {
  const res = await t.fetch(`/api/v6/task/${definitionId}/execute`, { method: 'PUT', json: { run_tags: { owner_id: owner }, ...body } });
  const json = (await res.json()) as Record<string, any>;
  expect(res.status, JSON.stringify(json)).toBe(200);
  return json;
}

/** `executeTask(definitionId, input)` with `owner` in the input; the new run's id. */
export async function executeGql(t: Pick<TestApp, 'gql'>, definitionId: string, input: Record<string, unknown> = {}, owner = 'tester'): Promise<string> {
  const res = await t.gql(
    `mutation($id: ID!, $input: ExecuteInput!) { executeTask(definitionId: $id, input: $input) { __typename ... on ExecuteTaskSuccess { run { runId } } } }`,
    { id: definitionId, input: { owner, ...input } },
  );
  expect(res.data?.executeTask?.__typename, JSON.stringify(res)).toBe('ExecuteTaskSuccess');
  return res.data.executeTask.run.runId as string;
}
