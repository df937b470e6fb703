/**
 * What runs inside each emulated pod, keyed by the internal port the RunPod proxy forwards to.
 * Today that is the AI Toolkit UI on 8675 (for a pod whose env has AI_TOOLKIT_AUTH and whose
 * ports include "8675/http"); ComfyUI on 8188 gets its own entry here later.
 *
 * It follows the pod's container (PodContainerHooks): services start when the pod's boot
 * completes, die with a restart (keeping their disk), and disappear with their disk on stop,
 * preemption and termination (RunPod wipes the container disk when a pod stops).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { AitkInstance } from './aitoolkit-instance.js';
import type { FaultInjector } from './faults.js';
import type { LoraRenderer } from './lora-artifact.js';
import { findGpuType } from './runpod-gpu-catalog.js';
import type { ContainerDownReason, PodContainerHooks, PodRecord } from './runpod-pods.store.js';
import type { TimerSet } from './timer-set.js';

export const AITK_PORT = 8675;

/** A service listening on one port of a pod. */
export interface PodService {
  readonly isAnswering: boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

export interface PodServicesOptions {
  dataDir: string;
  trainSeconds: number;
  faults: FaultInjector;
  timers: TimerSet;
  renderer: LoraRenderer;
  preempt: (podId: string) => void;
  log: (msg: string) => void;
}

export class PodServices implements PodContainerHooks {
  private readonly aitk = new Map<string, AitkInstance>();
  /** Jobs of installs that went away with their pod, as they were at that moment (snapshot). */
  private readonly gone: Array<{ id: string; name: string; status: string; step: number }> = [];
  /** Boots in flight, so a quick stop after "services up" does not leak an install. */
  private readonly starting = new Map<string, Promise<void>>();

  constructor(private readonly o: PodServicesOptions) {}

  /** The service behind `{podId}-{port}`, if the pod's container runs one there. */
  resolve(podId: string, port: number): PodService | undefined {
    if (port === AITK_PORT) return this.aitk.get(podId);
    return undefined;
  }

  servicesUp(pod: PodRecord): void {
    const existing = this.aitk.get(pod.id);
    if (existing) {
      existing.resume();
      return;
    }
    const token = pod.env.AI_TOOLKIT_AUTH;
    if (!token || !pod.ports.includes(`${AITK_PORT}/http`)) return;
    const gpuType = pod.gpu ? findGpuType(pod.gpu.id) : undefined;
    const boot = AitkInstance.create({
      installRoot: path.join(this.o.dataDir, 'pods', pod.id),
      token,
      trainSeconds: this.o.trainSeconds,
      faults: this.o.faults,
      timers: this.o.timers,
      renderer: this.o.renderer,
      gpu: { name: gpuType?.id ?? 'NVIDIA GeForce RTX 4090', memoryGb: gpuType?.memory ?? 24, count: pod.gpu?.count ?? 1 },
      preemptMachine: () => this.o.preempt(pod.id),
      log: this.o.log,
    })
      .then((inst) => {
        if (this.starting.get(pod.id) !== boot) {
          // The pod went down while the install was being created.
          void inst.dispose(true);
          return;
        }
        this.aitk.set(pod.id, inst);
        this.o.log(`pod ${pod.id}: AI Toolkit UI answering on port ${AITK_PORT}`);
      })
      .catch((err: unknown) => this.o.log(`pod ${pod.id}: AI Toolkit failed to start: ${(err as Error).message}`))
      .finally(() => {
        if (this.starting.get(pod.id) === boot) this.starting.delete(pod.id);
      });
    this.starting.set(pod.id, boot);
  }

  servicesDown(pod: PodRecord, reason: ContainerDownReason): void {
    this.starting.delete(pod.id);
    const inst = this.aitk.get(pod.id);
    if (!inst) return;
    if (reason === 'restart') {
      inst.halt();
      return;
    }
    this.aitk.delete(pod.id);
    this.gone.push(...inst.jobsSnapshot());
    void inst.dispose(true).catch((err: unknown) => this.o.log(`pod ${pod.id}: cleanup failed: ${(err as Error).message}`));
  }

  gpuUtil(pod: PodRecord): number {
    return this.aitk.get(pod.id)?.busyGpu() ? 98 : 0;
  }

  jobs(): Array<{ id: string; name: string; status: string; step: number }> {
    return [...this.gone, ...[...this.aitk.values()].flatMap((i) => i.jobsSnapshot())];
  }

  async close(): Promise<void> {
    this.starting.clear();
    const all = [...this.aitk.values()];
    this.aitk.clear();
    // Keep the folders on close: they are the record of what a test run did.
    await Promise.all(all.map((i) => i.dispose(false)));
  }
}
