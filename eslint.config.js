// Lint: typescript-eslint with type information, for the mistakes that matter in a server
// made of async loops (a promise nobody awaits, a promise where a callback is expected).
// Formatting is Prettier's (.prettierrc.json), not a lint rule. `npm run lint`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'drizzle/', 'coverage/', 'web/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // GraphQL results and JSON bodies in tests are read as `any` on purpose: the assertion is the check.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Outside every tsconfig (the client examples are README snippets with their own test;
    // the console's Vite config): linted without type information.
    files: ['examples/**/*.ts', 'src/web/vite.config.ts'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { parserOptions: { projectService: false, project: null } },
  },
  {
    // Plain JS (bin/, this file): no type information.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: Object.fromEntries(
        ['process', 'console', 'URL', 'Buffer', 'performance', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate'].map((g) => [
          g,
          'readonly',
        ]),
      ),
    },
  },
);
