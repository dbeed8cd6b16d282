// SDK clients for the ECS engine and the one place AWS errors are classified.
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { PermanentEngineError, RetryableEngineError, errorMessage } from '../../errors.js';
import type { EcsEngineConfig } from './config.js';

export interface EcsClients {
  ecs: ECSClient;
  sqs: SQSClient;
  logs: CloudWatchLogsClient;
}

/** Options shared by every client: region/endpoint from config, credentials from the default chain. */
export function awsClientOptions(config: Pick<EcsEngineConfig, 'region' | 'endpoint' | 'credentials' | 'maxAttempts'>) {
  return {
    ...(config.region ? { region: config.region } : {}),
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
    ...(config.maxAttempts ? { maxAttempts: config.maxAttempts } : {}),
  };
}

export function createEcsClients(config: EcsEngineConfig): EcsClients {
  const options = awsClientOptions(config);
  return {
    ecs: new ECSClient(options),
    sqs: new SQSClient(options),
    logs: new CloudWatchLogsClient(options),
  };
}

export function createEventBridgeClient(config: EcsEngineConfig): EventBridgeClient {
  return new EventBridgeClient(awsClientOptions(config));
}

interface AwsErrorShape {
  name?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
}

const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'LimitExceededException',
  'SlowDown',
]);

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

function shape(err: unknown): AwsErrorShape {
  return typeof err === 'object' && err !== null ? (err as AwsErrorShape) : {};
}

export function awsErrorName(err: unknown): string {
  return shape(err).name ?? 'Error';
}

export function isThrottling(err: unknown): boolean {
  const e = shape(err);
  return THROTTLING_NAMES.has(e.name ?? '') || e.$retryable?.throttling === true || e.$metadata?.httpStatusCode === 429;
}

export function isNotFound(err: unknown): boolean {
  const name = awsErrorName(err);
  return name === 'ResourceNotFoundException' || name === 'QueueDoesNotExist' || name.endsWith('NotFoundException');
}

export function isAbort(err: unknown): boolean {
  const name = awsErrorName(err);
  return name === 'AbortError';
}

/**
 * Maps an SDK error to the engine contract (docs/engines.md "ecs"): throttling, server faults and
 * network trouble are worth retrying; ClientException / InvalidParameterException mean the request
 * itself is wrong, except "No Container Instances", which is a capacity problem that passes.
 */
export function classifyAwsError(err: unknown, action: string): RetryableEngineError | PermanentEngineError {
  if (err instanceof RetryableEngineError || err instanceof PermanentEngineError) return err;
  const e = shape(err);
  const message = `${action}: ${awsErrorName(err)}: ${errorMessage(err)}`;
  if (isThrottling(err)) return new RetryableEngineError(message, { cause: err });
  if (/no container instances/i.test(errorMessage(err))) return new RetryableEngineError(message, { cause: err });
  const status = e.$metadata?.httpStatusCode;
  if (e.$fault === 'server' || (status !== undefined && status >= 500)) return new RetryableEngineError(message, { cause: err });
  if (e.code && NETWORK_CODES.has(e.code)) return new RetryableEngineError(message, { cause: err });
  if (e.name === 'ClientException' || e.name === 'InvalidParameterException' || e.$fault === 'client' || (status !== undefined && status >= 400)) {
    return new PermanentEngineError(message, { cause: err });
  }
  // No HTTP answer at all (timeouts, connection refused, DNS): the backend may come back.
  return new RetryableEngineError(message, { cause: err });
}
