import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('health', () => {
  it('answers the classic health body on /api/v6/health', async () => {
    const res = await t.fetch('/api/v6/health');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.json()).toEqual({ status: 'healthy', message: 'Service is up and running' });
  });

  it('answers GraphQL health', async () => {
    expect(await t.gql('{ health }')).toEqual({ data: { health: 'healthy' } });
  });
});
