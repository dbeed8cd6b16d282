// Size limits on what a definition or an execute may carry, so that a stored definition is one
// every engine can launch (Kubernetes refuses objects over ~1.5 MB; the whole env and command
// of a run travel in one) and one request cannot make the server hold megabytes per row.
// ECS is tighter still (8 KiB of container overrides): runService checks that up front.
import { z } from 'zod';

export const INPUT_LIMITS = {
  /** Characters of a command (definition or execute override). */
  commandChars: 64 * 1024,
  /** Entries in an env list. */
  envCount: 200,
  envNameChars: 256,
  envValueChars: 32 * 1024,
  /** Names and values of one env list together. */
  envTotalChars: 256 * 1024,
  tagCount: 50,
  tagChars: 256,
} as const;

export const limitedCommand = z
  .string({ error: 'command must be a string' })
  .max(INPUT_LIMITS.commandChars, { error: `command must be at most ${INPUT_LIMITS.commandChars} characters` });

/** Checks an env list already shaped as {name, value} entries. */
export function envLimitIssues(env: { name: string; value: string }[], field = 'env'): { path: (string | number)[]; message: string }[] {
  const L = INPUT_LIMITS;
  if (env.length > L.envCount) return [{ path: [field], message: `${field} must have at most ${L.envCount} entries (has ${env.length})` }];
  const issues: { path: (string | number)[]; message: string }[] = [];
  let total = 0;
  env.forEach((e, i) => {
    total += e.name.length + e.value.length;
    if (e.name.length > L.envNameChars) issues.push({ path: [field, i, 'name'], message: `${field}[${i}].name must be at most ${L.envNameChars} characters` });
    if (e.value.length > L.envValueChars)
      issues.push({ path: [field, i, 'value'], message: `${field}[${i}].value must be at most ${L.envValueChars} characters` });
  });
  if (issues.length === 0 && total > L.envTotalChars) {
    issues.push({ path: [field], message: `${field} names and values must total at most ${L.envTotalChars} characters (has ${total})` });
  }
  return issues;
}

export const limitedTags = z
  .array(z.string({ error: 'tags must be strings' }).max(INPUT_LIMITS.tagChars, { error: `tags must be at most ${INPUT_LIMITS.tagChars} characters each` }), {
    error: 'tags must be an array of strings',
  })
  .max(INPUT_LIMITS.tagCount, { error: `tags must have at most ${INPUT_LIMITS.tagCount} entries` });
