// The console's build: sources in src/web, output in dist/web (served at / by the API app).
import { defineConfig, type UserConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig(({ command }) => {
  // A build is always the production one, even when started from a test run (vitest sets
  // NODE_ENV=test, which would otherwise give React's development build).
  if (command === 'build') process.env.NODE_ENV = 'production';
  return config;
});

const config = {
  root,
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../../dist/web', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
  },
  server: {
    // `npx vite --config src/web/vite.config.ts` next to a `flotilla dev` on :5000.
    proxy: {
      '/graphql': { target: 'http://127.0.0.1:5000', ws: true },
      '/api': 'http://127.0.0.1:5000',
    },
  },
} satisfies UserConfig;
