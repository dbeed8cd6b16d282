import { graphql } from './graphql.js';

export const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      ownerId
      role
      authMode
      allowedActions
    }
  }
`);
