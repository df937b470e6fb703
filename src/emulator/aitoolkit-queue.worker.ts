/**
 * AI Toolkit's cron worker (`ui/cron/worker.ts`, `actions/processQueue.ts`, `actions/startJob.ts`):
 * every second, per Queue row —
 * - not running: each `running` job on those gpu_ids gets return_to_queue=true, "Stopping job...";
 * - running: if no job is running/stopping there, start the queued job with the lowest
 *   queue_position, and if there is none, set the queue back to not running.
 * The last rule is why starting the queue before the job is queued can race: the tick in between
 * stops the queue again. The tick runs on its own 1 s clock, independent of requests, as the real
 * worker does.
 *
 * startJob marks the job running ("Starting job..."), prepares `TRAINING_FOLDER/<job.name>/`
 * (log rotation, .job_config.json, pid.txt) and "spawns" the trainer; a non-zero exit while the
 * row still says running turns it into an error ("Job process terminated with ...").
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AitkDb } from './aitoolkit-db.js';
import { parseJobConfig } from './aitoolkit-job-config.js';
import { TOOLKIT_ROOT, type VirtualFs } from './aitoolkit-paths.js';
import { TrainerProcess } from './aitoolkit-trainer.sim.js';
import type { FaultInjector } from './faults.js';
import type { TimerSet } from './timer-set.js';

export const QUEUE_TICK_MS = 1000;

/** What the worker needs from its install. */
export interface AitkRuntime {
  readonly db: AitkDb;
  readonly vfs: VirtualFs;
  readonly timers: TimerSet;
  readonly faults: FaultInjector;
  readonly trainSeconds: number;
  readonly trainers: Map<string, TrainerProcess>;
  nextPid(): number;
  /** TRAINING_FOLDER as the worker reads it (the setting, unresolved, or the default). */
  trainingFolder(): string;
  preemptMachine?: () => void;
  log(msg: string): void;
}

export function processQueue(rt: AitkRuntime): void {
  for (const queue of rt.db.listQueues('id')) {
    if (!queue.is_running) {
      for (const job of rt.db.findJobs({ statusIn: ['running'], gpu_ids: queue.gpu_ids })) {
        rt.db.updateJob(job.id, { return_to_queue: true, info: 'Stopping job...' });
      }
      continue;
    }
    if (rt.db.findJobs({ statusIn: ['running', 'stopping'], gpu_ids: queue.gpu_ids }).length > 0) continue;
    const next = rt.db.findJobs({ statusIn: ['queued'], gpu_ids: queue.gpu_ids }, 'queue_position_asc')[0];
    if (next) {
      rt.log(`aitk: starting job ${next.id} (${next.name}) on GPU(s) ${next.gpu_ids}`);
      startJob(rt, next.id);
    } else {
      rt.db.setQueueRunning(queue.id, false);
    }
  }
}

export function startJob(rt: AitkRuntime, jobId: string): void {
  const job = rt.db.findJob(jobId);
  if (!job) return;
  rt.db.updateJob(jobId, { status: 'running', stop: false, return_to_queue: false, info: 'Starting job...' });
  startAndWatchJob(rt, jobId, job.name, job.job_config).catch((err: unknown) => {
    // The real startAndWatchJob runs inside an unawaited promise: a throw here leaves the job
    // "running" with "Starting job..." and nobody notices. Same here, but logged.
    rt.log(`aitk: startJob ${jobId} crashed: ${(err as Error).message}`);
  });
}

async function startAndWatchJob(rt: AitkRuntime, jobId: string, jobName: string, jobConfig: string): Promise<void> {
  const folderVirtual = path.posix.join(rt.trainingFolder(), jobName);
  const folder = rt.vfs.toReal(folderVirtual);
  await mkdir(folder, { recursive: true });
  const logPath = path.join(folder, 'log.txt');
  if (existsSync(logPath)) {
    const logs = path.join(folder, 'logs');
    await mkdir(logs, { recursive: true });
    let n = 0;
    while (existsSync(path.join(logs, `${n}_log.txt`))) n++;
    await rename(logPath, path.join(logs, `${n}_log.txt`)).catch(() => undefined);
  }

  const parsed = parseJobConfig(jobConfig);
  if (parsed.kind === 'worker-crash') throw new Error(parsed.message);
  const configObj = JSON.parse(jobConfig) as { config: { process: Array<Record<string, unknown>> } };
  configObj.config.process[0]!.sqlite_db_path = `${TOOLKIT_ROOT}/aitk_db.db`;
  await writeFile(path.join(folder, '.job_config.json'), JSON.stringify(configObj, null, 2));
  await appendFile(logPath, '');

  const pid = rt.nextPid();
  let proc: TrainerProcess | undefined;
  const onExit = (code: number | null, signal: string | null) => {
    // A job started twice has two processes; only forget the one that ended.
    if (proc && rt.trainers.get(jobId) === proc) rt.trainers.delete(jobId);
    if (code === 0) return;
    const message = `Job process terminated with ${signal ? `signal ${signal}` : `exit code ${code}`}.`;
    void appendFile(logPath, `\n${message}\n`).catch(() => undefined);
    rt.db.updateJobWhereStatus(jobId, 'running', { status: 'error', info: message, pid: null });
  };

  if (parsed.kind === 'trainer-exit') {
    // run.py starts and fails before the trainer reports anything.
    rt.timers.after(200, () => {
      void appendFile(logPath, 'Running 1 job\nError running job: unknown process type\n').catch(() => undefined);
      onExit(1, null);
    });
  } else {
    const fate = rt.faults.forJob();
    if (fate.kind !== 'complete') rt.log(`aitk: fault injected: job ${jobId} will ${fate.kind === 'error' ? 'fail' : 'lose its machine'} at ${Math.round(fate.atFraction * 100)}% of its steps`);
    proc = new TrainerProcess({
      pid,
      jobId,
      plan: parsed.plan,
      fate,
      wallMs: rt.trainSeconds * 1000,
      logPath,
      db: rt.db,
      vfs: rt.vfs,
      timers: rt.timers.child(),
      ...(rt.preemptMachine ? { preemptMachine: rt.preemptMachine } : {}),
      onExit,
      log: (m) => rt.log(m),
    });
    rt.trainers.set(jobId, proc);
    proc.start();
  }

  try {
    rt.db.updateJob(jobId, { pid });
  } catch {
    // The row was deleted while starting; the real worker's update fails the same way.
  }
  await writeFile(path.join(folder, 'pid.txt'), String(pid));
}
