/**
 * The AI Toolkit UI's SQLite database (`ui/prisma/schema.prisma`: Job, Queue, Settings), in memory,
 * one per install. It reproduces what clients can observe of Prisma:
 * - rows serialise with the model's field order and DateTimes as ISO strings with milliseconds;
 * - `name` and `gpu_ids` (queue) are unique: a clash is error P2002, a missing row P2025, a value of
 *   the wrong type a validation error (the routes turn these into their 409 / 500 answers);
 * - `updated_at` moves only on updates made through Prisma (routes, worker). The trainer writes
 *   status/info/step with raw SQL, which leaves `updated_at` alone, so it uses `trainerUpdate`.
 */
import { randomUUID } from 'node:crypto';

export interface JobRow {
  id: string;
  name: string;
  gpu_ids: string;
  job_config: string;
  created_at: Date;
  updated_at: Date;
  status: string;
  stop: boolean;
  return_to_queue: boolean;
  step: number;
  total_steps: number | null;
  info: string;
  speed_string: string;
  queue_position: number;
  pid: number | null;
  job_type: string;
  job_ref: string | null;
  save_now: boolean;
  sample_now: boolean;
}

export interface QueueRow {
  id: number;
  gpu_ids: string;
  is_running: boolean;
}

export class PrismaError extends Error {
  constructor(
    readonly code: 'P2002' | 'P2025' | 'VALIDATION',
    message: string,
  ) {
    super(message);
  }
}

export type JobPatch = Partial<Omit<JobRow, 'id' | 'created_at' | 'updated_at'>>;

const STRING_FIELDS = ['name', 'gpu_ids', 'job_config', 'status', 'info', 'speed_string', 'job_type'] as const;

function checkTypes(patch: Record<string, unknown>): void {
  for (const f of STRING_FIELDS) {
    if (patch[f] !== undefined && typeof patch[f] !== 'string') {
      throw new PrismaError('VALIDATION', `Invalid value for argument \`${f}\`: Expected String, provided ${patch[f] === null ? 'null' : typeof patch[f]}.`);
    }
  }
  if (patch.job_ref !== undefined && patch.job_ref !== null && typeof patch.job_ref !== 'string') {
    throw new PrismaError('VALIDATION', 'Invalid value for argument `job_ref`: Expected String or Null.');
  }
}

/** JSON of a row exactly as NextResponse.json(prismaRow) prints it. */
export function jobToJson(job: JobRow): Record<string, unknown> {
  return {
    id: job.id,
    name: job.name,
    gpu_ids: job.gpu_ids,
    job_config: job.job_config,
    created_at: job.created_at.toISOString(),
    updated_at: job.updated_at.toISOString(),
    status: job.status,
    stop: job.stop,
    return_to_queue: job.return_to_queue,
    step: job.step,
    total_steps: job.total_steps,
    info: job.info,
    speed_string: job.speed_string,
    queue_position: job.queue_position,
    pid: job.pid,
    job_type: job.job_type,
    job_ref: job.job_ref,
    save_now: job.save_now,
    sample_now: job.sample_now,
  };
}

export class AitkDb {
  private readonly jobs = new Map<string, JobRow>();
  private readonly queues: QueueRow[] = [];
  private nextQueueId = 1;
  private readonly settings = new Map<string, string>();

  // ---- Job ---------------------------------------------------------------------------------

  createJob(data: { name: unknown; gpu_ids: unknown; job_config: unknown; queue_position: number; job_type?: unknown; job_ref?: unknown }): JobRow {
    for (const required of ['name', 'gpu_ids', 'job_config'] as const) {
      if (data[required] === undefined) throw new PrismaError('VALIDATION', `Argument \`${required}\` is missing.`);
    }
    checkTypes(data);
    const name = data.name as string;
    if ([...this.jobs.values()].some((j) => j.name === name)) throw new PrismaError('P2002', 'Unique constraint failed on the fields: (`name`)');
    const now = new Date();
    const row: JobRow = {
      id: randomUUID(),
      name,
      gpu_ids: data.gpu_ids as string,
      job_config: data.job_config as string,
      created_at: now,
      updated_at: now,
      status: 'stopped',
      stop: false,
      return_to_queue: false,
      step: 0,
      total_steps: null,
      info: '',
      speed_string: '',
      queue_position: data.queue_position,
      pid: null,
      job_type: data.job_type === undefined ? 'train' : (data.job_type as string),
      job_ref: data.job_ref === undefined ? null : (data.job_ref as string | null),
      save_now: false,
      sample_now: false,
    };
    this.jobs.set(row.id, row);
    return { ...row };
  }

  /** `prisma.job.update`: throws P2025 when the row is missing, P2002 on a name clash. */
  updateJob(id: string, patch: JobPatch | Record<string, unknown>): JobRow {
    const row = this.jobs.get(id);
    if (!row) throw new PrismaError('P2025', 'Record to update not found.');
    checkTypes(patch as Record<string, unknown>);
    const p = patch as JobPatch;
    if (p.name !== undefined && p.name !== row.name && [...this.jobs.values()].some((j) => j.name === p.name)) {
      throw new PrismaError('P2002', 'Unique constraint failed on the fields: (`name`)');
    }
    for (const [k, v] of Object.entries(p)) if (v !== undefined) (row as unknown as Record<string, unknown>)[k] = v;
    row.updated_at = new Date();
    return { ...row };
  }

  /** `prisma.job.updateMany({ where: { id, status } })`: no error, returns the count. */
  updateJobWhereStatus(id: string, status: string, patch: JobPatch): number {
    const row = this.jobs.get(id);
    if (!row || row.status !== status) return 0;
    this.updateJob(id, patch);
    return 1;
  }

  /** The trainer's raw `UPDATE Job SET ... WHERE id = ?`: silently nothing when the row is gone. */
  trainerUpdate(id: string, patch: JobPatch): void {
    const row = this.jobs.get(id);
    if (!row) return;
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) (row as unknown as Record<string, unknown>)[k] = v;
  }

  findJob(id: string): JobRow | null {
    const row = this.jobs.get(id);
    return row ? { ...row } : null;
  }

  /** Read the live row (trainer polling its stop flags) without copying. */
  peekJob(id: string): Readonly<JobRow> | undefined {
    return this.jobs.get(id);
  }

  findJobs(where: { job_type?: string; statusIn?: string[]; gpu_ids?: string; job_ref?: string }, orderBy: 'created_at_desc' | 'queue_position_asc' | 'updated_at_desc' = 'created_at_desc'): JobRow[] {
    const rows = [...this.jobs.values()].filter(
      (j) =>
        (where.job_type === undefined || j.job_type === where.job_type) &&
        (where.statusIn === undefined || where.statusIn.includes(j.status)) &&
        (where.gpu_ids === undefined || j.gpu_ids === where.gpu_ids) &&
        (where.job_ref === undefined || j.job_ref === where.job_ref),
    );
    if (orderBy === 'created_at_desc') rows.sort((a, b) => b.created_at.getTime() - a.created_at.getTime());
    else if (orderBy === 'updated_at_desc') rows.sort((a, b) => b.updated_at.getTime() - a.updated_at.getTime());
    else rows.sort((a, b) => a.queue_position - b.queue_position);
    return rows.map((r) => ({ ...r }));
  }

  deleteJob(id: string): void {
    if (!this.jobs.delete(id)) throw new PrismaError('P2025', 'Record to delete does not exist.');
  }

  maxQueuePosition(): number | null {
    let max: number | null = null;
    for (const j of this.jobs.values()) if (max === null || j.queue_position > max) max = j.queue_position;
    return max;
  }

  allJobs(): JobRow[] {
    return [...this.jobs.values()].map((r) => ({ ...r }));
  }

  // ---- Queue -------------------------------------------------------------------------------

  findQueue(gpuIds: string): QueueRow | null {
    const q = this.queues.find((x) => x.gpu_ids === gpuIds);
    return q ? { ...q } : null;
  }

  createQueue(gpuIds: string, isRunning: boolean): QueueRow {
    if (this.queues.some((q) => q.gpu_ids === gpuIds)) throw new PrismaError('P2002', 'Unique constraint failed on the fields: (`gpu_ids`)');
    const row = { id: this.nextQueueId++, gpu_ids: gpuIds, is_running: isRunning };
    this.queues.push(row);
    return { ...row };
  }

  setQueueRunning(id: number, isRunning: boolean): void {
    const q = this.queues.find((x) => x.id === id);
    if (!q) throw new PrismaError('P2025', 'Record to update not found.');
    q.is_running = isRunning;
  }

  listQueues(orderBy: 'id' | 'gpu_ids'): QueueRow[] {
    const rows = this.queues.map((q) => ({ ...q }));
    if (orderBy === 'gpu_ids') rows.sort((a, b) => (a.gpu_ids < b.gpu_ids ? -1 : a.gpu_ids > b.gpu_ids ? 1 : 0));
    else rows.sort((a, b) => a.id - b.id);
    return rows;
  }

  // ---- Settings ----------------------------------------------------------------------------

  getSetting(key: string): string | undefined {
    return this.settings.get(key);
  }

  upsertSetting(key: string, value: unknown): void {
    if (typeof value !== 'string') throw new PrismaError('VALIDATION', `Argument \`value\` is missing.`);
    this.settings.set(key, value);
  }

  allSettings(): Array<{ key: string; value: string }> {
    return [...this.settings.entries()].map(([key, value]) => ({ key, value }));
  }
}
