ALTER TABLE "runs" ADD COLUMN "stop_requested_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "stop_confirmed_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "runs_stop_pending_idx" ON "runs" USING btree ("stop_requested_at") WHERE "runs"."stop_requested_at" IS NOT NULL AND "runs"."stop_confirmed_at" IS NULL;