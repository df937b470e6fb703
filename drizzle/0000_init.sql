CREATE TABLE "active_loras" (
	"character_id" text NOT NULL,
	"base_model" text NOT NULL,
	"lora_model_id" text NOT NULL,
	CONSTRAINT "active_loras_character_id_base_model_pk" PRIMARY KEY("character_id","base_model")
);
--> statement-breakpoint
CREATE TABLE "characters" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"name" text NOT NULL,
	"base_model" text NOT NULL,
	"auto_train" boolean DEFAULT true NOT NULL,
	"trigger_word" text NOT NULL,
	"sheet_completed_at" timestamp with time zone,
	"lora_enabled" boolean DEFAULT true NOT NULL,
	"lora_strength" double precision DEFAULT 1 NOT NULL,
	"likes_counted_since" timestamp with time zone,
	"retrain_notified_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "images" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"character_id" text NOT NULL,
	"source" text DEFAULT 'sheet' NOT NULL,
	"storage_key" text NOT NULL,
	"original_name" text,
	"mime" text NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"bytes" integer NOT NULL,
	"sha256" text NOT NULL,
	"liked" boolean DEFAULT false NOT NULL,
	"liked_at" timestamp with time zone,
	"check_status" text NOT NULL,
	"check_reasons" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"face_box" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ledger_entries" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "ledger_entries_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"user_id" text NOT NULL,
	"kind" text NOT NULL,
	"amount" integer NOT NULL,
	"reservation_id" text,
	"idempotency_key" text NOT NULL,
	"run_id" text,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "lora_models" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"character_id" text NOT NULL,
	"run_id" text NOT NULL,
	"base_model" text NOT NULL,
	"version" integer NOT NULL,
	"trigger_word" text NOT NULL,
	"files" jsonb NOT NULL,
	"rank" integer NOT NULL,
	"checkpoint_step" integer,
	"size_bytes" bigint NOT NULL,
	"emulated" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"type" text NOT NULL,
	"title" text NOT NULL,
	"body" text NOT NULL,
	"link" text,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"dedupe_key" text NOT NULL,
	"read_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "run_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "run_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"run_id" text NOT NULL,
	"from_status" text,
	"to_status" text NOT NULL,
	"detail" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "training_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"character_id" text NOT NULL,
	"base_model" text NOT NULL,
	"status" text NOT NULL,
	"version" integer DEFAULT 0 NOT NULL,
	"trigger" text NOT NULL,
	"image_ids" jsonb NOT NULL,
	"price_total" integer NOT NULL,
	"price_breakdown" jsonb NOT NULL,
	"free" boolean DEFAULT false NOT NULL,
	"retry_of_run_id" text,
	"reservation_id" text,
	"credits_charged" integer DEFAULT 0 NOT NULL,
	"credits_refunded" integer DEFAULT 0 NOT NULL,
	"recipe" jsonb,
	"backend" text NOT NULL,
	"emulated" boolean DEFAULT false NOT NULL,
	"attempt" integer DEFAULT 0 NOT NULL,
	"transient_retries" integer DEFAULT 0 NOT NULL,
	"job_name" text,
	"provider_handle" jsonb,
	"dataset_key" text,
	"step" integer DEFAULT 0 NOT NULL,
	"total_steps" integer DEFAULT 0 NOT NULL,
	"seconds_per_step" double precision,
	"eta_seconds" integer,
	"loss" double precision,
	"progress_message" text,
	"sample_keys" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"error_code" text,
	"error_message" text,
	"error_fault" text,
	"cancel_requested" boolean DEFAULT false NOT NULL,
	"gpu_seconds" double precision,
	"cost_usd" double precision,
	"lora_model_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"training_started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"name" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
ALTER TABLE "active_loras" ADD CONSTRAINT "active_loras_character_id_characters_id_fk" FOREIGN KEY ("character_id") REFERENCES "public"."characters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "active_loras" ADD CONSTRAINT "active_loras_lora_model_id_lora_models_id_fk" FOREIGN KEY ("lora_model_id") REFERENCES "public"."lora_models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "characters" ADD CONSTRAINT "characters_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "images" ADD CONSTRAINT "images_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "images" ADD CONSTRAINT "images_character_id_characters_id_fk" FOREIGN KEY ("character_id") REFERENCES "public"."characters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lora_models" ADD CONSTRAINT "lora_models_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lora_models" ADD CONSTRAINT "lora_models_character_id_characters_id_fk" FOREIGN KEY ("character_id") REFERENCES "public"."characters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lora_models" ADD CONSTRAINT "lora_models_run_id_training_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."training_runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_events" ADD CONSTRAINT "run_events_run_id_training_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."training_runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "training_runs" ADD CONSTRAINT "training_runs_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "training_runs" ADD CONSTRAINT "training_runs_character_id_characters_id_fk" FOREIGN KEY ("character_id") REFERENCES "public"."characters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "characters_owner_trigger_uq" ON "characters" USING btree ("owner_id","trigger_word");--> statement-breakpoint
CREATE INDEX "characters_owner_idx" ON "characters" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "images_character_idx" ON "images" USING btree ("character_id");--> statement-breakpoint
CREATE UNIQUE INDEX "ledger_idempotency_uq" ON "ledger_entries" USING btree ("user_id","idempotency_key");--> statement-breakpoint
CREATE UNIQUE INDEX "ledger_one_close_uq" ON "ledger_entries" USING btree ("reservation_id") WHERE kind in ('capture','release');--> statement-breakpoint
CREATE INDEX "ledger_user_idx" ON "ledger_entries" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "lora_models_run_uq" ON "lora_models" USING btree ("run_id");--> statement-breakpoint
CREATE UNIQUE INDEX "lora_models_version_uq" ON "lora_models" USING btree ("character_id","base_model","version");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_dedupe_uq" ON "notifications" USING btree ("user_id","dedupe_key");--> statement-breakpoint
CREATE INDEX "notifications_user_idx" ON "notifications" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "run_events_run_idx" ON "run_events" USING btree ("run_id");--> statement-breakpoint
CREATE UNIQUE INDEX "training_runs_one_active_uq" ON "training_runs" USING btree ("character_id") WHERE status in ('queued','preparing','submitting','training','finalizing');--> statement-breakpoint
CREATE INDEX "training_runs_owner_idx" ON "training_runs" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "training_runs_status_idx" ON "training_runs" USING btree ("status");