CREATE TABLE "clusters" (
	"name" text PRIMARY KEY NOT NULL,
	"engine" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"allowed_tiers" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"capabilities" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"region" text,
	"namespace" text,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "run_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"kind" text NOT NULL,
	"from_status" text,
	"to_status" text,
	"reason" text,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "run_logs" (
	"run_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"stream" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"text" text NOT NULL,
	CONSTRAINT "run_logs_run_id_seq_pk" PRIMARY KEY("run_id","seq")
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"run_id" text PRIMARY KEY NOT NULL,
	"definition_id" text NOT NULL,
	"definition_version" integer NOT NULL,
	"alias" text NOT NULL,
	"group_name" text NOT NULL,
	"image" text NOT NULL,
	"command" text,
	"command_hash" text,
	"env" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"cpu" integer NOT NULL,
	"memory" integer NOT NULL,
	"cpu_limit" integer NOT NULL,
	"memory_limit" integer NOT NULL,
	"gpu" integer,
	"ephemeral_storage" integer,
	"engine" text NOT NULL,
	"cluster_name" text NOT NULL,
	"status" text NOT NULL,
	"exit_code" integer,
	"exit_reason" text,
	"queued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"owner" text NOT NULL,
	"run_tags" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"node_lifecycle" text DEFAULT 'spot' NOT NULL,
	"active_deadline_seconds" integer,
	"description" text,
	"idempotence_key" text,
	"arch" text,
	"service_account" text,
	"tier" text,
	"engine_ref" text,
	"pod_name" text,
	"namespace" text,
	"instance_id" text,
	"instance_dns_name" text,
	"attempt" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer DEFAULT 3 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"claimed_by" text,
	"claim_expires_at" timestamp with time zone,
	"last_error" text,
	"missing_since" timestamp with time zone,
	"log_cursor" text,
	"logs_complete" boolean DEFAULT false NOT NULL,
	"log_claimed_by" text,
	"log_claim_expires_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "task_definitions" (
	"definition_id" text PRIMARY KEY NOT NULL,
	"alias" text NOT NULL,
	"group_name" text NOT NULL,
	"image" text NOT NULL,
	"command" text,
	"memory" integer,
	"cpu" integer,
	"gpu" integer,
	"ephemeral_storage" integer,
	"env" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"tags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"ports" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"adaptive_resource_allocation" boolean,
	"requires_docker" boolean DEFAULT false NOT NULL,
	"target_cluster" text,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "run_events" ADD CONSTRAINT "run_events_run_id_runs_run_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("run_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_logs" ADD CONSTRAINT "run_logs_run_id_runs_run_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("run_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_definition_id_task_definitions_definition_id_fk" FOREIGN KEY ("definition_id") REFERENCES "public"."task_definitions"("definition_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "run_events_run_idx" ON "run_events" USING btree ("run_id","seq");--> statement-breakpoint
CREATE INDEX "run_logs_at_idx" ON "run_logs" USING btree ("at");--> statement-breakpoint
CREATE INDEX "runs_status_started_at_idx" ON "runs" USING btree ("status","started_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "runs_definition_started_at_idx" ON "runs" USING btree ("definition_id","started_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "runs_owner_idx" ON "runs" USING btree ("owner");--> statement-breakpoint
CREATE INDEX "runs_cluster_idx" ON "runs" USING btree ("cluster_name");--> statement-breakpoint
CREATE INDEX "runs_queued_at_idx" ON "runs" USING btree ("queued_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "runs_env_gin" ON "runs" USING gin ("env");--> statement-breakpoint
CREATE INDEX "runs_idempotence_key_idx" ON "runs" USING btree ("idempotence_key") WHERE "runs"."idempotence_key" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "runs_due_idx" ON "runs" USING btree ("next_attempt_at","queued_at") WHERE "runs"."status" = 'QUEUED';--> statement-breakpoint
CREATE INDEX "runs_active_idx" ON "runs" USING btree ("engine","status") WHERE "runs"."status" IN ('PENDING', 'RUNNING');--> statement-breakpoint
CREATE INDEX "runs_logs_pending_idx" ON "runs" USING btree ("queued_at") WHERE "runs"."logs_complete" = false AND "runs"."status" IN ('RUNNING', 'STOPPED');--> statement-breakpoint
CREATE UNIQUE INDEX "task_definitions_alias_key" ON "task_definitions" USING btree ("alias");--> statement-breakpoint
CREATE INDEX "task_definitions_group_name_idx" ON "task_definitions" USING btree ("group_name");--> statement-breakpoint
CREATE INDEX "task_definitions_env_gin" ON "task_definitions" USING gin ("env");