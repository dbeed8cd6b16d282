// GraphQL's words for the domain's validation issues. The domain names a field by its own
// (camelCase) path, `activeDeadlineSeconds` or `env[0].value`; a GraphQL client sent it in an
// argument, so the path and the message name it there: `input.activeDeadlineSeconds`.
import { restate, restateRefusal, type FieldPath } from '../../domain/validation.js';
import { ForbiddenError, ValidationError } from '../../errors.js';

/**
 * Runs a service call whose input came in the argument `argument`; a ValidationError it
 * raises is restated with each field under that argument. Fields in `ownArguments` were
 * arguments of their own (executeTemplate's `payload`) and keep their path.
 */
export async function inArgument<T>(argument: string, call: () => Promise<T>, ownArguments: readonly string[] = []): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const words = { path: (path: FieldPath) => (path.length === 0 || ownArguments.includes(String(path[0])) ? [...path] : [argument, ...path]) };
    if (err instanceof ForbiddenError) throw restateRefusal(err, words);
    if (!(err instanceof ValidationError)) throw err;
    throw restate(err, words);
  }
}
