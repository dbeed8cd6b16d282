// `npm run schema` writes schema.graphql; `npm run schema -- --stdout` prints it (CI diffs it).
import { writeFileSync } from 'node:fs';
import { printSchemaSdl } from '../src/api/graphql/printSchema.js';

const sdl = printSchemaSdl();
if (process.argv.includes('--stdout')) process.stdout.write(sdl);
else writeFileSync(new URL('../schema.graphql', import.meta.url), sdl);
