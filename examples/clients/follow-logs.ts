// Follow a run's output over WebSocket with graphql-ws; resumes after a dropped connection.
// npx tsx follow-logs.ts <runId>    (FLOTILLA_URL defaults to http://localhost:5000)
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const base = process.env.FLOTILLA_URL ?? 'http://localhost:5000';
const client = createClient({ url: base.replace(/^http/, 'ws') + '/graphql', webSocketImpl: WebSocket });
const query = `subscription Follow($runId: ID!, $after: String) {
  runLogs(runId: $runId, after: $after) { stream text cursor }
}`;
let after: string | null = null; // the last cursor received: subscribe again with it to resume
for await (const result of client.iterate<{ runLogs: { stream: 'STDOUT' | 'STDERR'; text: string; cursor: string } }>({
  query,
  variables: { runId: process.argv[2], after },
})) {
  if (result.errors) throw new Error(result.errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('\n'));
  const chunk = result.data!.runLogs;
  (chunk.stream === 'STDERR' ? process.stderr : process.stdout).write(chunk.text);
  after = chunk.cursor;
}
await client.dispose();
