DROP INDEX "runs_owner_idx";--> statement-breakpoint
DROP INDEX "runs_env_gin";--> statement-breakpoint
CREATE INDEX "runs_owner_status_started_at_idx" ON "runs" USING btree ("owner","status","started_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "runs_env_path_gin" ON "runs" USING gin ("env" jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "runs_unfinished_started_at_idx" ON "runs" USING btree ("started_at" DESC NULLS LAST,"run_id" DESC NULLS LAST) WHERE "runs"."status" <> 'STOPPED';