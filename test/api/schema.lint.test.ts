// The published schema passes graphql-eslint (schema-recommended and the Relay rules, as
// configured in graphql.eslint.config.mjs) with no findings, and list orders share one
// default rule.
import { readFileSync } from 'node:fs';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

describe('schema.graphql', () => {
  it('has no graphql-eslint findings', async () => {
    const eslint = new ESLint({ overrideConfigFile: 'graphql.eslint.config.mjs' });
    const [result] = await eslint.lintFiles(['schema.graphql']);
    const findings = result!.messages.map((m) => `${m.line}:${m.column} ${m.ruleId}: ${m.message}`);
    expect(findings).toEqual([]);
  }, 60_000);

  it('documents every type, and order inputs have the same default rule (no schema default)', () => {
    const sdl = readFileSync('schema.graphql', 'utf8');
    for (const input of ['RunOrder', 'TaskDefinitionOrder']) {
      const block = sdl.slice(sdl.indexOf(`input ${input} {`));
      const direction = block.slice(0, block.indexOf('}')).match(/direction: OrderDirection.*/)![0];
      expect(direction).toBe('direction: OrderDirection');
    }
  });
});
