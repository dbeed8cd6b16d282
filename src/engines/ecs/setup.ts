// `flotilla ecs setup`: the AWS plumbing the ECS engine's push path and logs need, created
// idempotently (running it again changes nothing that is already right):
//   - the SQS queue for task state events (FLOTILLA_ECS_EVENTS_QUEUE, default `flotilla-ecs-events`),
//   - an EventBridge rule for "ECS Task State Change" of Flotilla's tasks on the cluster, targeting it,
//   - a statement in the queue policy that lets events.amazonaws.com send from that rule only,
//   - the CloudWatch Logs group the awslogs driver writes to (awslogs does not create it).
import { CloudWatchLogsClient, CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeClustersCommand, ECSClient } from '@aws-sdk/client-ecs';
import { DescribeRuleCommand, EventBridgeClient, ListTargetsByRuleCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { Logger } from '../../logger.js';
import { awsClientOptions, awsErrorName } from './aws.js';
import type { EcsEngineConfig } from './config.js';
import { TASK_STATE_CHANGE } from './events.js';

export const DEFAULT_EVENTS_QUEUE = 'flotilla-ecs-events';
const TARGET_ID = 'flotilla-sqs';

function sameJson(a: string, b: string): boolean {
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}

export interface EcsSetupResult {
  clusterArn: string;
  queueUrl: string;
  queueArn: string;
  ruleName: string;
  ruleArn: string;
  logGroup: string;
  /** What this call created or changed; empty when everything was already in place. */
  changes: string[];
}

export interface EcsSetupDeps {
  logger?: Logger;
  clients?: { ecs?: ECSClient; sqs?: SQSClient; logs?: CloudWatchLogsClient; events?: EventBridgeClient };
}

/** EventBridge rule names: [.-_A-Za-z0-9], up to 64 characters. */
export function ruleName(cluster: string): string {
  return `flotilla-ecs-${cluster.replace(/[^A-Za-z0-9._-]/g, '-')}`.slice(0, 64);
}

export function eventPattern(clusterArn: string): string {
  return JSON.stringify({
    source: ['aws.ecs'],
    'detail-type': [TASK_STATE_CHANGE],
    detail: { clusterArn: [clusterArn], group: [{ prefix: 'family:flotilla-' }] },
  });
}

interface PolicyStatement {
  Sid?: string;
  [key: string]: unknown;
}

/** The queue policy with our statement for `ruleArn` added or replaced; other statements are kept. */
export function queuePolicy(existing: string | undefined, queueArn: string, rule: string, ruleArn: string): string {
  let policy: { Version?: string; Statement?: PolicyStatement[] | PolicyStatement; [key: string]: unknown } = {};
  if (existing) {
    try {
      policy = JSON.parse(existing) as typeof policy;
    } catch {
      policy = {};
    }
  }
  const sid = `flotilla-${rule}`;
  const statements = (Array.isArray(policy.Statement) ? policy.Statement : policy.Statement ? [policy.Statement] : []).filter((s) => s.Sid !== sid);
  statements.push({
    Sid: sid,
    Effect: 'Allow',
    Principal: { Service: 'events.amazonaws.com' },
    Action: 'sqs:SendMessage',
    Resource: queueArn,
    Condition: { ArnEquals: { 'aws:SourceArn': ruleArn } },
  });
  return JSON.stringify({ ...policy, Version: policy.Version ?? '2012-10-17', Statement: statements });
}

function queueName(queue: string): string {
  return /^https?:\/\//.test(queue) ? (new URL(queue).pathname.split('/').filter(Boolean).pop() ?? queue) : queue;
}

export async function ecsSetup(config: EcsEngineConfig, deps: EcsSetupDeps = {}): Promise<EcsSetupResult> {
  const options = awsClientOptions(config);
  const ecs = deps.clients?.ecs ?? new ECSClient(options);
  const sqs = deps.clients?.sqs ?? new SQSClient(options);
  const logs = deps.clients?.logs ?? new CloudWatchLogsClient(options);
  const events = deps.clients?.events ?? new EventBridgeClient(options);
  const changes: string[] = [];
  const log = deps.logger;
  try {
    const clusters = await ecs.send(new DescribeClustersCommand({ clusters: [config.cluster] }));
    const cluster = clusters.clusters?.find((c) => c.status !== 'INACTIVE');
    if (!cluster?.clusterArn) {
      throw new Error(
        `ECS cluster "${config.cluster}" does not exist: create it (aws ecs create-cluster --cluster-name ${config.cluster}) or set FLOTILLA_ECS_CLUSTER`,
      );
    }
    const clusterArn = cluster.clusterArn;

    const name = queueName(config.eventsQueue ?? DEFAULT_EVENTS_QUEUE);
    let queueUrl: string | undefined;
    try {
      queueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    } catch (err) {
      if (!/QueueDoesNotExist|NonExistentQueue/.test(awsErrorName(err))) throw err;
    }
    if (!queueUrl) {
      queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl;
      changes.push(`created SQS queue ${name}`);
    }
    if (!queueUrl) throw new Error(`SQS did not return a URL for queue ${name}`);
    const attributes = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'Policy'] }))).Attributes ?? {};
    const queueArn = attributes.QueueArn;
    if (!queueArn) throw new Error(`SQS did not return the ARN of queue ${name}`);

    const rule = ruleName(config.cluster);
    const pattern = eventPattern(clusterArn);
    let ruleArn: string | undefined;
    try {
      const current = await events.send(new DescribeRuleCommand({ Name: rule }));
      if (current.State === 'ENABLED' && current.EventPattern && sameJson(current.EventPattern, pattern)) ruleArn = current.Arn;
    } catch (err) {
      if (awsErrorName(err) !== 'ResourceNotFoundException') throw err;
    }
    if (!ruleArn) {
      const put = await events.send(
        new PutRuleCommand({
          Name: rule,
          EventPattern: pattern,
          State: 'ENABLED',
          Description: `Flotilla: ECS task state changes on ${config.cluster} to SQS ${name}`,
        }),
      );
      ruleArn = put.RuleArn;
      changes.push(`put EventBridge rule ${rule}`);
    }
    if (!ruleArn) throw new Error(`EventBridge did not return the ARN of rule ${rule}`);
    const current = await events.send(new ListTargetsByRuleCommand({ Rule: rule }));
    if (!current.Targets?.some((t) => t.Id === TARGET_ID && t.Arn === queueArn)) {
      const targets = await events.send(new PutTargetsCommand({ Rule: rule, Targets: [{ Id: TARGET_ID, Arn: queueArn }] }));
      if (targets.FailedEntryCount) {
        throw new Error(`EventBridge refused the SQS target of rule ${rule}: ${JSON.stringify(targets.FailedEntries)}`);
      }
      changes.push(`pointed rule ${rule} at ${queueArn}`);
    }

    const policy = queuePolicy(attributes.Policy, queueArn, rule, ruleArn);
    if (!attributes.Policy || !sameJson(attributes.Policy, policy)) {
      await sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { Policy: policy } }));
      changes.push(`allowed events.amazonaws.com (rule ${rule}) to send to ${name}`);
    }

    try {
      await logs.send(new CreateLogGroupCommand({ logGroupName: config.logGroup }));
      changes.push(`created log group ${config.logGroup}`);
    } catch (err) {
      if (awsErrorName(err) !== 'ResourceAlreadyExistsException') throw err;
    }
    log?.info({ queueUrl, ruleArn, changes }, 'ECS setup done');
    return { clusterArn, queueUrl, queueArn, ruleName: rule, ruleArn, logGroup: config.logGroup, changes };
  } finally {
    if (!deps.clients?.ecs) ecs.destroy();
    if (!deps.clients?.sqs) sqs.destroy();
    if (!deps.clients?.logs) logs.destroy();
    if (!deps.clients?.events) events.destroy();
  }
}
