ALTER TABLE "images" ADD COLUMN "looks_like_character" boolean;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "looks_like_answered_at" timestamp with time zone;