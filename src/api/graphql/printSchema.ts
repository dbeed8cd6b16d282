import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './schema/index.js';

export function printSchemaSdl(): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}
