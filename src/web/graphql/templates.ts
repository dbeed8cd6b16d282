import { graphql } from './graphql.js';

export const TemplatesQuery = graphql(`
  query Templates($latestOnly: Boolean, $first: Int, $after: String) {
    templates(latestOnly: $latestOnly, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          templateId
          templateName
          version
          image
          memory
          cpu
          schema
          defaults
          commandTemplate
          createdAt
        }
      }
    }
  }
`);

export const ExecuteTemplateMutation = graphql(`
  mutation ExecuteTemplate($templateId: ID!, $payload: JSON, $dryRun: Boolean, $input: ExecuteInput!) {
    executeTemplate(templateId: $templateId, payload: $payload, dryRun: $dryRun, input: $input) {
      __typename
      ... on ExecuteTemplateSuccess {
        run {
          runId
          command
          memory
          cpu
          resourceReason
        }
      }
      ... on TemplatePayloadError {
        message
        fields {
          path
          message
        }
      }
      ... on Error {
        message
      }
    }
  }
`);
