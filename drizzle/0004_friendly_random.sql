CREATE TABLE "templates" (
	"template_id" text PRIMARY KEY NOT NULL,
	"template_name" text NOT NULL,
	"version" integer NOT NULL,
	"schema" jsonb NOT NULL,
	"command_template" text NOT NULL,
	"defaults" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"avatar_uri" text,
	"image" text NOT NULL,
	"memory" integer NOT NULL,
	"cpu" integer NOT NULL,
	"gpu" integer,
	"env" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"adaptive_resource_allocation" boolean DEFAULT true NOT NULL,
	"ports" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"tags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "runs" DROP CONSTRAINT "runs_definition_id_task_definitions_definition_id_fk";
--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "executable_type" text DEFAULT 'task_definition' NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "execution_request_custom" jsonb;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "engine_requested" text;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "resource_reason" text;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "max_memory_used" integer;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "max_cpu_used" integer;--> statement-breakpoint
CREATE UNIQUE INDEX "templates_name_version_key" ON "templates" USING btree ("template_name","version");--> statement-breakpoint
CREATE INDEX "runs_definition_command_hash_idx" ON "runs" USING btree ("definition_id","command_hash","queued_at" DESC NULLS LAST);