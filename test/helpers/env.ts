// Which real services the tests use. CI sets both; a laptop without them falls back to
// PGlite and the in-process bus, and the same tests run.
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;
export const TEMPLATE_DB = 'flotilla_test_template';

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = '/' + name;
  return u.toString();
}
