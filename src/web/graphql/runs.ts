import { graphql } from './graphql.js';
import { MutationErrors } from './tasks.js';

export const RunRowFields = graphql(`
  fragment RunRowFields on Run {
    runId
    alias
    definitionId
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
`);

export const RunsQuery = graphql(
  `
    query Runs($filter: RunFilter, $orderBy: RunOrder, $first: Int, $after: String, $last: Int, $before: String) {
      runs(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
        totalCount
        pageInfo {
          hasNextPage
          hasPreviousPage
          startCursor
          endCursor
        }
        edges {
          node {
            ...RunRowFields
          }
        }
      }
    }
  `,
  [RunRowFields],
);

export const RunFields = graphql(`
  fragment RunFields on Run {
    runId
    alias
    definitionId
    definitionVersion
    status
    owner
    groupName
    clusterName
    engine
    engineRequested
    engineRef
    image
    command
    description
    env {
      name
      value
    }
    cpu
    cpuLimit
    memory
    memoryLimit
    resourceReason
    maxMemoryUsed
    maxCpuUsed
    gpu
    ephemeralStorage
    nodeLifecycle
    activeDeadlineSeconds
    tier
    attempt
    maxAttempts
    lastError
    nextAttemptAt
    podName
    namespace
    instanceId
    instanceDnsName
    queuedAt
    startedAt
    finishedAt
    updatedAt
    exitCode
    exitReason
    logsComplete
    runTags
    events {
      id
      seq
      at
      kind
      fromStatus
      toStatus
      reason
      detail
    }
  }
`);

export const RunQuery = graphql(
  `
    query Run($id: ID!) {
      run(runId: $id) {
        ...RunFields
      }
    }
  `,
  [RunFields],
);

export const RunStatusSubscription = graphql(
  `
    subscription RunStatus($runId: ID!) {
      runStatus(runId: $runId) {
        ...RunFields
      }
    }
  `,
  [RunFields],
);

export const RunEventsSubscription = graphql(
  `
    subscription RunFeed($filter: RunFeedFilter) {
      runEvents(filter: $filter) {
        ...RunRowFields
      }
    }
  `,
  [RunRowFields],
);

export const RunLogsSubscription = graphql(`
  subscription RunLogs($runId: ID!, $after: String) {
    runLogs(runId: $runId, after: $after) {
      seq
      cursor
      stream
      at
      text
    }
  }
`);

export const ExecuteTaskMutation = graphql(
  `
    mutation ExecuteTask($definitionId: ID!, $input: ExecuteInput!) {
      executeTask(definitionId: $definitionId, input: $input) {
        __typename
        ... on ExecuteTaskSuccess {
          run {
            runId
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

export const StopRunMutation = graphql(
  `
    mutation StopRun($runId: ID!) {
      stopRun(runId: $runId) {
        __typename
        ... on StopRunSuccess {
          run {
            ...RunFields
          }
        }
        ... on Error {
          ...MutationErrors
        }
      }
    }
  `,
  [MutationErrors, RunFields],
);
