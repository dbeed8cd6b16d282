DROP INDEX "task_definitions_alias_key";--> statement-breakpoint
ALTER TABLE "task_definitions" ADD COLUMN "archived_at" timestamp with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "task_definitions_alias_key" ON "task_definitions" USING btree ("alias") WHERE archived_at is null;