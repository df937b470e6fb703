CREATE TABLE "generation_attempts" (
	"id" text PRIMARY KEY NOT NULL,
	"generation_id" text NOT NULL,
	"slot" integer NOT NULL,
	"attempt" integer NOT NULL,
	"method" text NOT NULL,
	"seed" bigint NOT NULL,
	"lora_strength" double precision,
	"outcome" text NOT NULL,
	"provider_job_id" text,
	"gpu_seconds" double precision,
	"similarity" double precision,
	"match" boolean,
	"face_count" integer,
	"copy_paste" boolean,
	"recognizer_id" text,
	"emulated" boolean DEFAULT false NOT NULL,
	"error" text,
	"workflow" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "generations" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"character_id" text NOT NULL,
	"base_model" text NOT NULL,
	"prompt" text NOT NULL,
	"negative_prompt" text DEFAULT '' NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"count" integer NOT NULL,
	"seed" bigint NOT NULL,
	"status" text NOT NULL,
	"method" text NOT NULL,
	"plan_code" text NOT NULL,
	"plan_reason" text NOT NULL,
	"plan" jsonb NOT NULL,
	"lora_model_id" text,
	"trigger_word" text,
	"lora_strength" double precision,
	"reference_image_id" text,
	"source_workflow" jsonb,
	"workflow" jsonb NOT NULL,
	"fallbacks" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"gpu_seconds" double precision DEFAULT 0 NOT NULL,
	"cost_usd" double precision,
	"backend" text NOT NULL,
	"emulated" boolean DEFAULT false NOT NULL,
	"error_code" text,
	"error_message" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "generation_id" text;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "generation_slot" integer;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "method" text;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "attempts" integer;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "seed" bigint;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "identity_similarity" double precision;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "identity_match" boolean;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "face_count" integer;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "copy_paste" boolean;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "identity_flagged" boolean;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "recognizer_id" text;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "emulated" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "generation_attempts" ADD CONSTRAINT "generation_attempts_generation_id_generations_id_fk" FOREIGN KEY ("generation_id") REFERENCES "public"."generations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "generations" ADD CONSTRAINT "generations_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "generations" ADD CONSTRAINT "generations_character_id_characters_id_fk" FOREIGN KEY ("character_id") REFERENCES "public"."characters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "generation_attempts_slot_uq" ON "generation_attempts" USING btree ("generation_id","slot","attempt");--> statement-breakpoint
CREATE INDEX "generations_owner_idx" ON "generations" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "generations_character_idx" ON "generations" USING btree ("character_id");--> statement-breakpoint
CREATE UNIQUE INDEX "images_generation_slot_uq" ON "images" USING btree ("generation_id","generation_slot");