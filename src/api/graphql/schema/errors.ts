// Expected failures as typed results (plugin-errors); anything else is masked by Yoga.
import { ConflictError, FlotillaError, NotFoundError, TemplatePayloadError, ValidationError, type FieldIssue } from '../../../errors.js';
import { builder } from '../builder.js';
import { ErrorCodeEnum, type ErrorCodeName } from './enums.js';

export const ErrorInterface = builder.interfaceRef<FlotillaError>('Error').implement({
  description: 'An expected failure of a mutation, returned as its result (not in the errors list).',
  fields: (t) => ({
    message: t.exposeString('message', { description: 'What went wrong and what to do, in words.' }),
    code: t.field({ type: ErrorCodeEnum, description: 'Machine-readable kind of failure.', resolve: (e) => e.code as ErrorCodeName }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  description: 'The object named in the arguments does not exist (code NOT_FOUND).',
  interfaces: [ErrorInterface],
  isTypeOf: (v) => v instanceof NotFoundError,
  fields: () => ({}),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description: 'The change conflicts with the current state, e.g. a duplicate alias (code CONFLICT).',
  interfaces: [ErrorInterface],
  isTypeOf: (v) => v instanceof ConflictError,
  fields: () => ({}),
});

const FieldErrorRef = builder.objectRef<FieldIssue>('FieldError').implement({
  description: 'One invalid field: its path in the input and what to send instead.',
  fields: (t) => ({
    path: t.stringList({
      description: 'Where the field is in the arguments, e.g. ["input", "env", "0", "name"]; the message names it as input.env[0].name.',
      resolve: (i) => i.path.map(String),
    }),
    message: t.exposeString('message', { description: 'What is wrong and what to send instead.' }),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'Some input fields are invalid (code VALIDATION); `fields` lists each one.',
  interfaces: [ErrorInterface],
  isTypeOf: (v) => v instanceof ValidationError && !(v instanceof TemplatePayloadError),
  fields: (t) => ({
    fields: t.field({ type: [FieldErrorRef], resolve: (e) => e.issues }),
  }),
});

builder.objectType(TemplatePayloadError, {
  name: 'TemplatePayloadError',
  description: "The payload fails the template's JSON Schema (each failing path in fields), or the command cannot be rendered from it.",
  interfaces: [ErrorInterface],
  isTypeOf: (v) => v instanceof TemplatePayloadError,
  fields: (t) => ({
    fields: t.field({ type: [FieldErrorRef], description: 'Each invalid field.', resolve: (e) => e.issues }),
  }),
});

/** The error classes every mutation reports as typed results. */
export const MUTATION_ERRORS = [ValidationError, NotFoundError, ConflictError];

/**
 * The result types of a mutation: `<Name>Success` holding the data, or one of the typed
 * errors. Every mutation lists the same error types so a client handles them all one way,
 * and a new failure mode later does not change the result union.
 */
export function mutationResult(name: string, done: string) {
  return {
    types: MUTATION_ERRORS,
    result: { name: `${name}Success`, description: `${done}.` },
    union: {
      name: `${name}Result`,
      description: `${name}Success, or why not: ValidationError (bad input), NotFoundError or ConflictError. Select \`... on Error { code message }\` to handle every failure one way.`,
    },
  };
}
