import { builder } from '../builder.js';

builder.queryField('health', (t) =>
  t.string({ description: 'Answers "healthy" while the API is up.', resolve: () => 'healthy' }),
);

builder.mutationField('ping', (t) =>
  t.string({ description: 'Answers "pong"; a harmless mutation for client smoke tests.', resolve: () => 'pong' }),
);
