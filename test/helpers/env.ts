// Which real services the tests use. CI sets both; a laptop without them falls back to
// PGlite and the in-process bus, and the same tests run.
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;
/**
 * The migrated template this run clones. globalSetup names it per run (and sets this
 * variable before the test workers start), so two runs on one server never collide.
 */
export const TEMPLATE_DB = process.env.FLOTILLA_TEST_TEMPLATE ?? 'flotilla_test_template';

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = '/' + name;
  return u.toString();
}
