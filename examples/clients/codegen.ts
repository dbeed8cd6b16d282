// GraphQL Code Generator: typed operations from Flotilla's schema.
// npm install -D @graphql-codegen/cli @graphql-codegen/client-preset; npx graphql-codegen
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  // The committed schema file of this repository, or a running server's URL
  // (http://localhost:5000/graphql, by introspection).
  schema: 'schema.graphql',
  documents: ['src/**/*.graphql', 'src/**/*.{ts,tsx}'],
  generates: {
    'src/gql/': {
      preset: 'client',
      config: {
        // DateTime is an RFC 3339 string on the wire; JSON any value.
        scalars: { DateTime: 'string', JSON: 'unknown' },
        enumsAsTypes: true,
      },
    },
  },
};
export default config;
