// What the ECS engine needs. The registry fills the first block from the process config
// (`config.ecs` in src/config.ts); the tuning block has defaults and exists for tests.

export type EcsLaunchType = 'EC2' | 'FARGATE';

export interface EcsEngineConfig {
  /** AWS region; undefined = the SDK's default chain (AWS_REGION, profile). */
  region?: string;
  /** Endpoint override for emulators (moto_server); undefined = the real AWS endpoints. */
  endpoint?: string;
  /** ECS cluster this engine runs tasks on (one engine instance per cluster). */
  cluster: string;
  launchType: EcsLaunchType;
  /** awsvpc subnets; required for FARGATE, optional for EC2 (empty = bridge networking). */
  subnets: string[];
  securityGroups: string[];
  /** CloudWatch Logs group of the awslogs driver. */
  logGroup: string;
  /** SQS queue (name or URL) that receives ECS Task State Change events; undefined = no push. */
  eventsQueue?: string;
  taskRoleArn?: string;
  /** Needed by Fargate (and private registries) to pull the image and write to CloudWatch. */
  executionRoleArn?: string;

  // ---- optional tuning ----
  /** Explicit credentials (tests); production leaves this unset and uses the SDK default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** FARGATE in a public subnet without NAT needs a public IP to pull images. Default false. */
  assignPublicIp?: boolean;
  /** Shell that runs the command: `bash -c` (default) or `sh -c` for images without bash. */
  shell?: 'bash' | 'sh';
  /** SDK-level attempts per call (the SDK's own retry). Default: the SDK's (3). */
  maxAttempts?: number;
  /** Pause between GetLogEvents calls when a stream is drained. Default 1000 ms. */
  logPollMs?: number;
  /** How often an idle log reader asks DescribeTasks whether the task stopped. Default 5000 ms. */
  statusCheckMs?: number;
  /** After the task is seen STOPPED, keep polling at least this long for late log events. Default 3000 ms. */
  logDrainGraceMs?: number;
  /** First back-off after a ThrottlingException; doubles up to 30 s. Default 500 ms. */
  throttleBackoffMs?: number;
  /** Shared GetLogEvents budget of this process (CloudWatch allows 25/s per account and region). Default 10. */
  logRequestsPerSecond?: number;
  /** SQS long-poll wait. Default 20 s. */
  eventsWaitSeconds?: number;
}
