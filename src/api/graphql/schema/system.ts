import { builder } from '../builder.js';

builder.queryField('health', (t) =>
  t.string({ description: 'Answers "healthy" while the API is up.', resolve: () => 'healthy' }),
);
