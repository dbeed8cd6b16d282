// Apollo Client 4: queries over HTTP, subscriptions over graphql-ws, a normalized cache keyed
// by the global `id` every Run, TaskDefinition, Cluster and RunEvent has.
// npx tsx apollo.ts    (npm install @apollo/client graphql graphql-ws rxjs ws)
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const base = process.env.FLOTILLA_URL ?? 'http://localhost:5000';
const http = new HttpLink({ uri: `${base}/graphql` });
const ws = new GraphQLWsLink(createClient({ url: base.replace(/^http/, 'ws') + '/graphql', webSocketImpl: WebSocket }));
const client = new ApolloClient({
  link: ApolloLink.split(({ query }) => {
    const def = getMainDefinition(query);
    return def.kind === 'OperationDefinition' && def.operation === 'subscription';
  }, ws, http),
  cache: new InMemoryCache({
    typePolicies: { Query: { fields: { runs: { keyArgs: ['filter', 'orderBy'] } } } },
  }),
});

const { data } = await client.query<{ runs: { edges: { node: { id: string; runId: string; status: string } }[]; pageInfo: { endCursor: string | null } } }>({
  query: gql`query Recent($first: Int) { runs(first: $first) { edges { node { id runId status } } pageInfo { endCursor } } }`,
  variables: { first: 5 },
});
for (const { node } of data!.runs.edges) console.log(node.runId, node.status);

const latest = data!.runs.edges[0]?.node.runId;
if (latest) {
  await new Promise<void>((resolve, reject) => {
    client
      .subscribe<{ runStatus: { runId: string; status: string } }>({
        query: gql`subscription Status($runId: ID!) { runStatus(runId: $runId) { id runId status } }`,
        variables: { runId: latest },
      })
      .subscribe({ next: ({ data }) => console.log('status', data?.runStatus.status), error: reject, complete: resolve });
  });
}
client.stop();
await (ws.client as { dispose(): Promise<void> }).dispose();
