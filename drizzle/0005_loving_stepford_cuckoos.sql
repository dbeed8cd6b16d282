CREATE TABLE "api_tokens" (
	"token_id" text PRIMARY KEY NOT NULL,
	"hash" text NOT NULL,
	"owner" text NOT NULL,
	"role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_by" text,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"revoked_by" text,
	"last_used_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "definition_history" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"definition_id" text NOT NULL,
	"version" integer NOT NULL,
	"action" text NOT NULL,
	"actor" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"snapshot" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "clusters" ADD COLUMN "updated_by" text;--> statement-breakpoint
ALTER TABLE "task_definitions" ADD COLUMN "created_by" text;--> statement-breakpoint
ALTER TABLE "task_definitions" ADD COLUMN "updated_by" text;--> statement-breakpoint
CREATE UNIQUE INDEX "api_tokens_hash_key" ON "api_tokens" USING btree ("hash");--> statement-breakpoint
CREATE INDEX "definition_history_definition_idx" ON "definition_history" USING btree ("definition_id","seq");