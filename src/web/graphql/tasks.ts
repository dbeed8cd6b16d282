import { graphql } from './graphql.js';

export const TaskRowFields = graphql(`
  fragment TaskRowFields on TaskDefinition {
    definitionId
    alias
    groupName
    image
    memory
    cpu
    createdAt
    updatedAt
  }
`);

export const TasksQuery = graphql(
  `
    query Tasks($filter: TaskDefinitionFilter, $orderBy: TaskDefinitionOrder, $first: Int, $after: String, $last: Int, $before: String) {
      taskDefinitions(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
        totalCount
        pageInfo {
          hasNextPage
          hasPreviousPage
          startCursor
          endCursor
        }
        edges {
          node {
            ...TaskRowFields
          }
        }
      }
    }
  `,
  [TaskRowFields],
);

/** Existing groups and tags for the filters and form choices (the first 500 definitions). */
export const TaskChoicesQuery = graphql(`
  query TaskChoices {
    taskDefinitions(first: 500) {
      edges {
        node {
          groupName
          tags
        }
      }
    }
  }
`);

export const TaskFields = graphql(`
  fragment TaskFields on TaskDefinition {
    definitionId
    alias
    groupName
    image
    command
    memory
    cpu
    gpu
    ephemeralStorage
    adaptiveResourceAllocation
    requiresDocker
    ports
    tags
    targetCluster
    env {
      name
      value
    }
    version
    createdAt
    updatedAt
  }
`);

export const TaskQuery = graphql(
  `
    query Task($id: ID!) {
      taskDefinition(definitionId: $id) {
        ...TaskFields
      }
    }
  `,
  [TaskFields],
);

export const TaskRunsQuery = graphql(`
  query TaskRuns($id: ID!, $filter: RunFilter, $first: Int, $after: String) {
    taskDefinition(definitionId: $id) {
      definitionId
      runs(filter: $filter, first: $first, after: $after) {
        totalCount
        pageInfo {
          hasNextPage
          endCursor
        }
        edges {
          node {
            runId
            status
            owner
            clusterName
            engine
            queuedAt
            startedAt
            finishedAt
            exitCode
            exitReason
          }
        }
      }
    }
  }
`);

/** How many runs a delete takes with it. */
export const TaskRunCountQuery = graphql(`
  query TaskRunCount($id: ID!) {
    taskDefinition(definitionId: $id) {
      definitionId
      runs(first: 1) {
        totalCount
      }
    }
  }
`);

const MutationErrors = graphql(`
  fragment MutationErrors on Error {
    __typename
    code
    message
    ... on ValidationError {
      fields {
        path
        message
      }
    }
  }
`);

export const CreateTaskMutation = graphql(
  `
    mutation CreateTask($input: CreateTaskDefinitionInput!) {
      createTaskDefinition(input: $input) {
        __typename
        ... on CreateTaskDefinitionSuccess {
          taskDefinition {
            definitionId
          }
        }
        ... on Error {
          ...MutationErrors
        }
      }
    }
  `,
  [MutationErrors],
);

export const UpdateTaskMutation = graphql(
  `
    mutation UpdateTask($id: ID!, $input: UpdateTaskDefinitionInput!) {
      updateTaskDefinition(definitionId: $id, input: $input) {
        __typename
        ... on UpdateTaskDefinitionSuccess {
          taskDefinition {
            ...TaskFields
          }
        }
        ... on Error {
          ...MutationErrors
        }
      }
    }
  `,
  [MutationErrors, TaskFields],
);

export const DeleteTaskMutation = graphql(
  `
    mutation DeleteTask($id: ID!) {
      deleteTaskDefinition(definitionId: $id) {
        __typename
        ... on DeleteTaskDefinitionSuccess {
          deletedId
        }
        ... on Error {
          ...MutationErrors
        }
      }
    }
  `,
  [MutationErrors],
);

export { MutationErrors };
