// Writes dist/web/persisted-operations.json: { "<sha256 hex of the document text>": "<text>" }
// for every operation the console sends. The text is what the client sends (urql's
// stringifyDocument, after formatDocument for what goes through its cache), so a server in
// persisted-only mode (FLOTILLA_GRAPHQL_PERSISTED=only) finds every hash the console uses.
import { writeFileSync } from 'node:fs';
import { formatDocument, stringifyDocument } from '@urql/core';
import type { DocumentNode } from 'graphql';
import { sha256Hex } from '../src/web/lib/sha256.js';
import * as tasks from '../src/web/graphql/tasks.js';
import * as runs from '../src/web/graphql/runs.js';
import * as clusters from '../src/web/graphql/clusters.js';
import * as templates from '../src/web/graphql/templates.js';

function isOperation(value: unknown): value is DocumentNode {
  const doc = value as DocumentNode | undefined;
  return doc?.kind === 'Document' && doc.definitions.some((d) => d.kind === 'OperationDefinition');
}

const out: Record<string, string> = {};
for (const value of [...Object.values(tasks), ...Object.values(runs), ...Object.values(clusters), ...Object.values(templates)]) {
  if (!isOperation(value)) continue;
  // urql's cache exchange sends the document with __typename added (formatDocument); the log
  // view sends its subscription as written. Both forms are registered.
  for (const text of new Set([stringifyDocument(formatDocument(value)), stringifyDocument(value)])) {
    out[await sha256Hex(text)] = text;
  }
}
const file = new URL('../dist/web/persisted-operations.json', import.meta.url);
writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
console.log(`persisted-operations.json: ${Object.keys(out).length} operations`);
