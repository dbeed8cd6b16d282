// Errors here are built with Yoga's createGraphQLError, not `new GraphQLError`: under vitest
// our sources load graphql's ESM build while Yoga loads the CommonJS one, and an error from
// the other copy is masked as unexpected (see badInput in connection.ts).
import { Kind } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { builder } from '../builder.js';

// RFC 3339 date-time: seconds required, zone required (Z or ±hh:mm). `new Date` alone would
// accept "2024" or "May 1" and read a zone-less time in the server's local zone.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The value as the error shows it; not JSON.stringify, which overflows on an array nested thousands deep. */
function shown(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function parseDateTime(value: unknown): Date {
  const d = typeof value === 'string' && RFC3339.test(value) ? new Date(value) : undefined;
  if (!d || Number.isNaN(d.getTime())) {
    throw createGraphQLError(`DateTime must be an RFC 3339 time with a zone, e.g. 2026-01-31T12:00:00Z; got ${shown(value)}`, {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  return d;
}

builder.scalarType('DateTime', {
  description: 'An RFC 3339 timestamp with zone, e.g. 2026-01-31T12:00:00.000Z',
  serialize: (value) => (value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString()),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

builder.scalarType('JSON', {
  description: 'Any JSON value',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: function parse(ast): unknown {
    switch (ast.kind) {
      case Kind.STRING:
      case Kind.BOOLEAN:
        return ast.value;
      case Kind.INT:
      case Kind.FLOAT:
        return Number(ast.value);
      case Kind.NULL:
        return null;
      case Kind.LIST:
        return ast.values.map((v) => parse(v));
      case Kind.OBJECT:
        return Object.fromEntries(ast.fields.map((f) => [f.name.value, parse(f.value)]));
      default:
        throw createGraphQLError('JSON literals cannot contain variables; pass the whole value as a variable instead', {
          extensions: { code: 'BAD_USER_INPUT' },
        });
    }
  },
});
