// Environment variables as name/value pairs, the shape stored on definitions and runs.
import type { EnvVar } from '../../../db/schema.js';
import { builder } from '../builder.js';

export const EnvVarRef = builder.objectRef<EnvVar>('EnvVar').implement({
  description: 'One environment variable passed to the container.',
  fields: (t) => ({
    name: t.exposeString('name'),
    value: t.exposeString('value'),
  }),
});

export const EnvVarInput = builder.inputType('EnvVarInput', {
  description: 'One environment variable, e.g. {name: "LOG_LEVEL", value: "debug"}.',
  fields: (t) => ({
    name: t.string({ required: true }),
    value: t.string({ required: true }),
  }),
});
