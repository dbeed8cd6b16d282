// The REST shim's words for the domain's validation issues. The domain names fields as it
// does in code (runTags, activeDeadlineSeconds, env[0].value); the classic v6 clients see
// the snake_case body keys and a few classic phrasings, restated here and nowhere else.
import { OWNER_MISSING } from '../../domain/runService.js';
import { fieldName, restate, restateRefusal, snakeCase, type FieldPath, type FieldWords } from '../../domain/validation.js';
import { ForbiddenError, ValidationError, type FieldIssue } from '../../errors.js';

/** Domain fields that sit elsewhere in a REST body. */
const MOVED: Record<string, string[]> = {
  owner: ['run_tags', 'owner_id'],
  payload: ['template_payload'],
};

/**
 * The body path of a domain path: the top-level field in snake_case (or where the body keeps
 * it). Keys below it are the caller's own (run tags, labels, config, payload) or already
 * the same in both (env `name`/`value`), so they stay as they are.
 */
export function restPath(path: FieldPath): (string | number)[] {
  const [head, ...rest] = path;
  if (typeof head !== 'string') return [...path];
  return [...(MOVED[head] ?? [snakeCase(head)]), ...rest];
}

/** The classic messages that are not "<field> <problem>". */
function classicMessage(issue: FieldIssue): string | undefined {
  if (issue.message === OWNER_MISSING) return 'run_tags must exist in body and contain [owner_id]';
  if (issue.path.length === 1 && issue.message === `${fieldName(issue.path)} must be specified`) {
    return `string [${fieldName(restPath(issue.path))}] must be specified`;
  }
  return undefined;
}

export const REST_WORDS: FieldWords = { path: restPath, message: classicMessage };

/** Cluster routes name the top-level field a storability issue is in, as they always have. */
const CLUSTER_WORDS: FieldWords = {
  path: restPath,
  message: (issue) => (issue.unstorable ? `${fieldName(restPath(issue.path.slice(0, 1)))} must not contain ${issue.unstorable}` : classicMessage(issue)),
};

/** A ValidationError in the shim's words; anything else as it is. */
export function inRestWords(err: unknown, words: FieldWords = REST_WORDS): unknown {
  if (err instanceof ForbiddenError) return restateRefusal(err, words);
  return err instanceof ValidationError ? restate(err, words) : err;
}

/** Runs a cluster service call, its validation issues in the cluster routes' words. */
export async function inClusterWords<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw inRestWords(err, CLUSTER_WORDS);
  }
}
