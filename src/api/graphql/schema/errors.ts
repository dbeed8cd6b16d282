// Expected failures as typed results (plugin-errors); anything else is masked by Yoga.
import { ConflictError, FlotillaError, NotFoundError, TemplatePayloadError, ValidationError, type FieldIssue } from '../../../errors.js';
import { builder } from '../builder.js';

export const ErrorInterface = builder.interfaceRef<FlotillaError>('Error').implement({
  fields: (t) => ({
    message: t.exposeString('message'),
    code: t.exposeString('code'),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  interfaces: [ErrorInterface],
  isTypeOf: (v) => v instanceof NotFoundError,
  fields: () => ({}),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  interfaces: [ErrorInterface],
  isTypeOf: (v) => v instanceof ConflictError,
  fields: () => ({}),
});

const FieldErrorRef = builder.objectRef<FieldIssue>('FieldError').implement({
  description: 'One invalid field: its path in the input and what to send instead.',
  fields: (t) => ({
    path: t.stringList({ resolve: (i) => i.path.map(String) }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
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
    fields: t.field({ type: [FieldErrorRef], resolve: (e) => e.issues }),
  }),
});

/** The error classes every mutation reports as typed results. */
export const MUTATION_ERRORS = [ValidationError, NotFoundError, ConflictError];
