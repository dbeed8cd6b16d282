import { graphql } from './graphql.js';
import { MutationErrors } from './tasks.js';

export const ClusterFields = graphql(`
  fragment ClusterFields on Cluster {
    name
    engine
    status
    allowedTiers
    capabilities
    region
    namespace
    registered
    config
    updatedAt
  }
`);

export const ClustersQuery = graphql(
  `
    query Clusters {
      clusters {
        ...ClusterFields
      }
    }
  `,
  [ClusterFields],
);

export const CreateClusterMutation = graphql(
  `
    mutation CreateCluster($input: CreateClusterInput!) {
      createCluster(input: $input) {
        __typename
        ... on CreateClusterSuccess {
          cluster {
            ...ClusterFields
          }
        }
        ... on Error {
          ...MutationErrors
        }
      }
    }
  `,
  [MutationErrors, ClusterFields],
);

export const UpdateClusterMutation = graphql(
  `
    mutation UpdateCluster($name: String!, $input: UpdateClusterInput!) {
      updateCluster(name: $name, input: $input) {
        __typename
        ... on UpdateClusterSuccess {
          cluster {
            ...ClusterFields
          }
        }
        ... on Error {
          ...MutationErrors
        }
      }
    }
  `,
  [MutationErrors, ClusterFields],
);
