/**
 * What the AI Toolkit UI routes need from their install, and the helpers they share for behaving
 * like Next.js route handlers (`await request.json()` on any body, `NextResponse.json(...)`).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AitkDb } from './aitoolkit-db.js';
import type { FileRoots } from './aitoolkit-file.server.js';
import type { VirtualFs } from './aitoolkit-paths.js';
import type { TrainerProcess } from './aitoolkit-trainer.sim.js';
import type { LoraRenderer } from './lora-artifact.js';
import type { TimerSet } from './timer-set.js';

export interface AitkUiContext {
  /** AI_TOOLKIT_AUTH; null leaves every route open, as the real middleware does. */
  token: string | null;
  db: AitkDb;
  vfs: VirtualFs;
  /** Resolved virtual roots from settings (TRAINING_FOLDER, DATASETS_FOLDER, DATA_ROOT). */
  roots(): FileRoots;
  modelsPath(): string;
  trainers: Map<string, TrainerProcess>;
  renderer: LoraRenderer;
  timers: TimerSet;
  gpus: { name: string; memoryMiB: number; count: number; busy(): boolean };
}

/** Marker for "request.json() threw". */
export const INVALID_JSON = Symbol('invalid-json');

/** Next's `await request.json()`: parses whatever body came, regardless of content type. */
export function jsonBody(request: FastifyRequest): unknown {
  const raw = request.body;
  if (typeof raw !== 'string') return INVALID_JSON;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return INVALID_JSON;
  }
}

/** `NextResponse.json(value, { status })`: exactly `application/json`, no charset parameter. */
export function nextJson(reply: FastifyReply, value: unknown, status = 200): FastifyReply {
  // A Buffer, because Fastify appends "; charset=utf-8" to JSON media types of string payloads.
  return reply.code(status).header('content-type', 'application/json').send(Buffer.from(JSON.stringify(value ?? null)));
}

/** A Next.js route handler that threw: 500 with an empty body. */
export function nextCrash(reply: FastifyReply): FastifyReply {
  return reply.code(500).send('');
}

/** Field access that throws TypeError on null/undefined like JS destructuring does. */
export function field(body: unknown, key: string): unknown {
  if (body === null || body === undefined) throw new TypeError(`Cannot destructure property '${key}' of body as it is ${String(body)}.`);
  return (body as Record<string, unknown>)[key];
}
