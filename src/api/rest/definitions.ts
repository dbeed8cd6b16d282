import type { Hono } from 'hono';
import type { RestDeps } from './index.js';

export function registerDefinitionRoutes(_router: Hono, _deps: RestDeps): void {
  // filled in by the definitions routes work
}
