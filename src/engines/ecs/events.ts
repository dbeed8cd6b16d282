// Push path: EventBridge puts "ECS Task State Change" events on an SQS queue (see setup.ts);
// this long-polls the queue, maps the events of Flotilla's tasks to status updates and deletes
// what it handled. Messages about other tasks are deleted too: the queue exists for Flotilla.
// A message whose update handler throws stays on the queue and comes back after the
// visibility timeout, so a failing database write is retried rather than lost.
// Stopping aborts an in-flight long poll at once (shutdown should not wait 20 s); a message SQS
// handed to that aborted poll comes back after the visibility timeout, and reconcile covers it.
import { DeleteMessageBatchCommand, GetQueueUrlCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { StatusUpdate } from '../types.js';
import { awsErrorName } from './aws.js';
import { isFlotillaTask, runIdOf, taskFromEventDetail, taskStatus } from './status.js';
import { abortableSleep } from '../io.js';

export const TASK_STATE_CHANGE = 'ECS Task State Change';

export interface EventWatchOptions {
  client: SQSClient;
  /** Queue name or URL. */
  queue: string;
  cluster: string;
  waitSeconds: number;
  logger?: Logger;
}

export async function resolveQueueUrl(client: SQSClient, queue: string, signal?: AbortSignal): Promise<string> {
  if (/^https?:\/\//.test(queue)) return queue;
  const out = await client.send(new GetQueueUrlCommand({ QueueName: queue }), signal ? { abortSignal: signal } : {});
  if (!out.QueueUrl) throw new Error(`SQS queue ${queue} has no URL`);
  return out.QueueUrl;
}

/** The status update an SQS message carries, or undefined when it is not about a Flotilla task. */
export function updateFromMessage(body: string | undefined, cluster: string): StatusUpdate | undefined {
  let event: unknown;
  try {
    event = JSON.parse(body ?? '');
  } catch {
    return undefined;
  }
  if (typeof event !== 'object' || event === null) return undefined;
  const e = event as Record<string, unknown>;
  if (e.source !== 'aws.ecs' || e['detail-type'] !== TASK_STATE_CHANGE) return undefined;
  const task = taskFromEventDetail(e.detail);
  if (!task || !isFlotillaTask(task, cluster)) return undefined;
  const runId = runIdOf(task);
  return runId ? taskStatus(runId, task) : undefined;
}

/** Starts the long-poll loop; the returned function stops it and waits for it to end. */
export function watchTaskEvents(options: EventWatchOptions, onUpdate: (update: StatusUpdate) => void): () => Promise<void> {
  const abort = new AbortController();
  const { signal } = abort;
  const log = options.logger;

  const loop = (async () => {
    let queueUrl: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        queueUrl ??= await resolveQueueUrl(options.client, options.queue, signal);
        const out = await options.client.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: options.waitSeconds }),
          { abortSignal: signal },
        );
        failures = 0;
        const done = await handle(out.Messages ?? []);
        if (done.length > 0) {
          const deleted = await options.client.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
            }),
            { abortSignal: signal },
          );
          if (deleted.Failed?.length) log?.warn({ failed: deleted.Failed }, 'could not delete some ECS event messages; they will be seen again');
        }
      } catch (err) {
        if (signal.aborted) break;
        failures += 1;
        const wait = Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
        log?.warn({ err: errorMessage(err), name: awsErrorName(err), retryInMs: wait }, 'reading ECS events from SQS failed');
        await abortableSleep(wait, signal);
      }
    }
  })();

  async function handle(messages: Message[]): Promise<Message[]> {
    const done: Message[] = [];
    for (const message of messages) {
      const update = updateFromMessage(message.Body, options.cluster);
      if (update) {
        try {
          // The contract types the handler as sync; a worker that returns a promise gets it awaited,
          // so a failed write leaves the message on the queue.
          await (onUpdate(update) as unknown);
        } catch (err) {
          log?.warn({ runId: update.runId, err: errorMessage(err) }, 'ECS event handler failed; the message will be redelivered');
          continue;
        }
      }
      if (message.ReceiptHandle) done.push(message);
    }
    return done;
  }

  return async () => {
    abort.abort();
    await loop;
  };
}
