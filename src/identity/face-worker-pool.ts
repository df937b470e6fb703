/**
 * A small pool of face workers, one image per worker at a time (TensorFlow.js's wasm backend uses
 * one core per thread, so N workers use N cores). Jobs queue in arrival order. A worker that dies
 * fails only its own job and is replaced.
 */
import { Worker } from 'node:worker_threads';
import type { FaceAnalysis } from './identity.types.js';
import type { FaceWorkerInit, FaceWorkerReply, FaceWorkerStartup } from './face-worker.protocol.js';

const WORKER_ENTRY = new URL('./face.worker.mjs', import.meta.url);
const STARTUP_TIMEOUT_MS = 120_000;

interface Job {
  id: number;
  bytes: Uint8Array;
  resolve(a: FaceAnalysis): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

export class ImageAnalysisError extends Error {
  override readonly name = 'ImageAnalysisError';
}

export class FaceWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  private constructor(private readonly init: FaceWorkerInit) {}

  static async start(size: number, init: FaceWorkerInit): Promise<FaceWorkerPool> {
    const pool = new FaceWorkerPool(init);
    try {
      await Promise.all(Array.from({ length: Math.max(1, size) }, () => pool.spawn()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  analyze(bytes: Uint8Array): Promise<FaceAnalysis> {
    if (this.closed) return Promise.reject(new Error('identity engine is closed'));
    // Copy into a buffer of our own so it can be transferred, not cloned, and the caller's
    // (possibly pooled) Buffer is left alone.
    const own = new Uint8Array(bytes.byteLength);
    own.set(bytes);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, bytes: own, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('identity engine closed'));
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private spawn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(WORKER_ENTRY, { workerData: this.init });
      const slot: Slot = { worker, job: undefined };
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error('face worker did not start in time'));
      }, STARTUP_TIMEOUT_MS);
      const onStartup = (msg: FaceWorkerStartup) => {
        clearTimeout(timer);
        if (!msg.ready) {
          void worker.terminate();
          reject(new Error(`face worker failed to start: ${msg.error}`));
          return;
        }
        worker.on('message', (reply: FaceWorkerReply) => this.onReply(slot, reply));
        this.slots.push(slot);
        resolve();
        this.dispatch();
      };
      worker.once('message', onStartup);
      worker.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
        this.onDeath(slot, err);
      });
      worker.on('exit', (code) => {
        if (!this.closed) this.onDeath(slot, new Error(`face worker exited with code ${code}`));
      });
    });
  }

  private onReply(slot: Slot, reply: FaceWorkerReply): void {
    const job = slot.job;
    slot.job = undefined;
    if (job && job.id === reply.id) {
      if (reply.ok) job.resolve(reply.analysis);
      else job.reject(new ImageAnalysisError(reply.error));
    }
    this.dispatch();
  }

  private onDeath(slot: Slot, err: Error): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    slot.job?.reject(err);
    slot.job = undefined;
    if (!this.closed) this.spawn().catch((e: unknown) => this.failQueueIfEmptyPool(e));
  }

  private failQueueIfEmptyPool(e: unknown): void {
    if (this.slots.length > 0) return;
    const err = e instanceof Error ? e : new Error(String(e));
    for (const job of this.queue.splice(0)) job.reject(err);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job) continue;
      const job = this.queue.shift();
      if (!job) return;
      slot.job = job;
      slot.worker.postMessage({ id: job.id, bytes: job.bytes }, [job.bytes.buffer as ArrayBuffer]);
    }
  }
}
