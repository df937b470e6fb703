/**
 * Training on AI Toolkit inside a RunPod pod (REST v2, contracts/README.md §1 and §3): one pod per
 * run attempt, named `likeness-<jobName>`, running `ostris/aitoolkit`, with the UI on port 8675
 * reached through RunPod's proxy and protected by a per-pod random AI_TOOLKIT_AUTH token.
 *
 * - submit: finds the pod by name (idempotent after a crash) or creates it, and returns at once;
 *   it never waits for the pod.
 * - status: drives the run forward on every call: pod booting, or UI not yet answering on a young
 *   container -> 'starting' (a pod not RUNNING after `startTimeoutMs` -> 'preempted');
 *   then the shared AI Toolkit driver uploads the dataset, creates, starts and reports the job.
 *   A pod that is gone, EXITED or ERROR before the job finished -> ProviderError('preempted').
 * - release: terminates every pod with the run's name and reports GPU time and cost.
 *
 * What the handle stores (it is JSON in the runs table): the pod id and name, the pod's UI token
 * (needed to talk to the UI; it is also in the pod's env, which is how submit recovers it), the
 * hourly cost at creation (RunPod reports 0 once a pod stops), and the run's recipe and dataset
 * file list with their signed URLs. Status needs them for the upload, which happens only once the
 * UI is up (minutes after submit), so the URLs must be signed for at least `startTimeoutMs` +
 * `uiBootGraceMs` + the upload time, about 70 min with the defaults (the caller signs them; 6 h is
 * a comfortable choice). A URL refused by storage becomes 'preempted': a new attempt is prepared
 * with fresh URLs.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import pLimit from 'p-limit';
import { ProviderError } from '../domain/errors.js';
import { AitkJobDriver, type AitkRunData } from './aitoolkit/aitoolkit-job.driver.js';
import { AitkUiClient } from './aitoolkit/aitoolkit-ui.client.js';
import { RUNPOD_PROVIDER, RunpodPodsClient, type RunpodCreatePodRequest, type RunpodPod } from './runpod/runpod-pods.client.js';
import type {
  ReleaseReport,
  TrainingArtifact,
  TrainingBackend,
  TrainingHandle,
  TrainingJobSpec,
  TrainingStatus,
} from './training-backend.js';

export const RUNPOD_PROXY_URL_TEMPLATE = 'https://{podId}-{port}.proxy.runpod.net';
export const AITK_IMAGE = 'ostris/aitoolkit:latest';
const AITK_PORT = 8675;

export interface RunpodPodBackendOptions {
  apiKey: string;
  /** RunPod REST base, default https://api.runpod.io. */
  apiBaseUrl?: string;
  /** `{podId}` and `{port}` are replaced; default RunPod's public proxy. */
  proxyUrlTemplate?: string;
  /** GPU type ids in order of preference; the next is tried when RunPod cannot place one (400/403). */
  gpuTypeIds: string[];
  image?: string;
  /** Container disk (GB): the image plus the base model's weights downloaded at start. Default 100. */
  containerDiskGb?: number;
  /** Persistent volume at /workspace (GB), default 20 (RunPod's floor is 10). */
  volumeGb?: number;
  /** e.g. ["13.0"]: the aitoolkit image needs a CUDA 13 host (contracts §3.1). Omit to accept any. */
  allowedCudaVersions?: string[];
  cloud?: 'SECURE' | 'COMMUNITY';
  dataCenterIds?: string[];
  /** Pod name = prefix + job name. Default `likeness-`. */
  podNamePrefix?: string;
  /** From pod creation until the pod is RUNNING; past it the attempt counts as preempted. Default 45 min. */
  startTimeoutMs?: number;
  /**
   * How long after the container started an unanswered UI still counts as booting ('starting');
   * after it, a UI that does not answer is a transient fault. Default 20 min.
   */
  uiBootGraceMs?: number;
  /** Per-call limit for RunPod and UI calls, default 30 s. */
  requestTimeoutMs?: number;
  uploadTimeoutMs?: number;
  datasetFetchTimeoutMs?: number;
  downloadIdleTimeoutMs?: number;
  /** True when the API is the GPU emulator: statuses are marked emulated. */
  emulated?: boolean;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface RunpodPodHandle extends TrainingHandle, AitkRunData {
  backend: 'runpod';
  runId: string;
  podId: string;
  podName: string;
  /** AI_TOOLKIT_AUTH of this pod. */
  uiToken: string;
  gpuTypeId: string;
  costPerHourUsd: number;
  createdAt: string;
}

/** Pods younger than this are never reaped (see reap). */
const REAP_MIN_AGE_MS = 60_000;

const GONE_STATUSES = new Set(['EXITED', 'TERMINATED', 'ERROR']);

export class RunpodPodBackend implements TrainingBackend {
  readonly id = 'runpod';
  private readonly pods: RunpodPodsClient;
  private readonly driver: AitkJobDriver;
  private readonly now: () => number;

  constructor(private readonly opts: RunpodPodBackendOptions) {
    if (opts.gpuTypeIds.length === 0) throw new RangeError('RunpodPodBackend needs at least one GPU type id.');
    this.pods = new RunpodPodsClient({
      apiKey: opts.apiKey,
      baseUrl: opts.apiBaseUrl,
      timeoutMs: opts.requestTimeoutMs,
      fetch: opts.fetch,
    });
    this.driver = new AitkJobDriver({
      gpuIds: '0',
      emulated: opts.emulated ?? false,
      datasetFetchTimeoutMs: opts.datasetFetchTimeoutMs,
      fetch: opts.fetch,
    });
    this.now = opts.now ?? Date.now;
  }

  podNameFor(jobName: string): string {
    return `${this.opts.podNamePrefix ?? 'likeness-'}${jobName}`;
  }

  uiUrlFor(podId: string): string {
    return (this.opts.proxyUrlTemplate ?? RUNPOD_PROXY_URL_TEMPLATE)
      .replaceAll('{podId}', podId)
      .replaceAll('{port}', String(AITK_PORT));
  }

  async submit(spec: TrainingJobSpec, signal?: AbortSignal): Promise<RunpodPodHandle> {
    const podName = this.podNameFor(spec.jobName);
    const existing = (await this.pods.listPods(signal)).find((p) => p.name === podName && p.status !== 'TERMINATED');
    const pod = existing ?? (await this.createPod(podName, signal));
    const uiToken = pod.env?.AI_TOOLKIT_AUTH;
    if (!uiToken) {
      throw new ProviderError('fatal', `Pod ${pod.id} (${podName}) has no AI_TOOLKIT_AUTH: not created by Likeness.`, RUNPOD_PROVIDER);
    }
    return {
      backend: 'runpod',
      jobName: spec.jobName,
      runId: spec.runId,
      recipe: spec.recipe,
      dataset: spec.dataset,
      podId: pod.id,
      podName,
      uiToken,
      gpuTypeId: pod.gpu?.id ?? this.opts.gpuTypeIds[0]!,
      costPerHourUsd: pod.cost,
      createdAt: pod.createdAt,
    };
  }

  async status(handle: TrainingHandle, signal?: AbortSignal): Promise<TrainingStatus> {
    const h = asPodHandle(handle);
    return this.statusOn(h, await this.pods.getPod(h.podId, signal), signal);
  }

  /**
   * One pod listing for every run instead of a pod lookup each (RunPod's API is shared and rate
   * limited; each pod's AI Toolkit UI is still asked on its own). A pod missing from the listing
   * (created after it, or gone) is looked up alone, as `status` would; a failed listing only means
   * every pod is.
   */
  async statusMany(handles: readonly TrainingHandle[], opts: { concurrency: number }): Promise<PromiseSettledResult<TrainingStatus>[]> {
    const listed = new Map((await this.pods.listPods().catch(() => [])).map((p) => [p.id, p]));
    const limit = pLimit(Math.max(1, opts.concurrency));
    return Promise.allSettled(
      handles.map((handle) =>
        limit(async () => {
          const h = asPodHandle(handle);
          return this.statusOn(h, listed.get(h.podId) ?? (await this.pods.getPod(h.podId)));
        }),
      ),
    );
  }

  private async statusOn(h: RunpodPodHandle, pod: RunpodPod | null, signal?: AbortSignal): Promise<TrainingStatus> {
    if (!pod || GONE_STATUSES.has(pod.status)) {
      throw new ProviderError(
        'preempted',
        `Pod ${h.podId} is ${pod ? pod.status : 'gone'} before training finished.`,
        RUNPOD_PROVIDER,
      );
    }
    if (pod.status !== 'RUNNING') return this.starting(h, `Pod ${pod.status.toLowerCase()}`, true);
    const ui = this.uiClient(h);
    try {
      return await this.driver.advance(ui, h, signal);
    } catch (err) {
      // The UI's readiness is asked only when talking to it failed: a healthy poll is one request
      // to the pod instead of two. Up and answering, the failure is the job's and stands as it is.
      if (signal?.aborted) throw err;
      const readiness = await ui.readiness(signal);
      if (readiness.ready) throw err;
      // While the container is young, an unanswered UI is still booting. Later it is a blip (the
      // proxy, a Next.js restart): a transient fault, not 'starting', which would show a running
      // job's progress falling back to step 0.
      if (this.containerUptimeMs(pod) <= (this.opts.uiBootGraceMs ?? 20 * 60_000)) {
        return this.starting(h, 'Waiting for AI Toolkit to start', false);
      }
      throw new ProviderError('transient', `AI Toolkit on pod ${h.podId} is not answering: ${readiness.reason}`, RUNPOD_PROVIDER);
    }
  }

  async download(handle: TrainingHandle, artifact: TrainingArtifact, signal?: AbortSignal): Promise<Readable> {
    return this.driver.download(this.uiClient(asPodHandle(handle)), artifact, signal);
  }

  /** Stops the trainer if it runs; a pod that is not up has nothing to stop (release ends it). */
  async cancel(handle: TrainingHandle): Promise<void> {
    const h = asPodHandle(handle);
    const pod = await this.pods.getPod(h.podId);
    if (!pod || pod.status !== 'RUNNING') return;
    const ui = this.uiClient(h);
    if (!(await ui.probe())) return;
    await this.driver.cancel(ui, h.jobName);
  }

  /**
   * Terminates the run's pod, and any other pod carrying its name (two racing submits could have
   * made two): nothing is left billing. GPU time runs from each pod's startedAt to now, cost at the
   * hourly rate RunPod quoted (kept from creation, since a stopped pod reads 0). A pod RunPod no
   * longer knows was already released: it adds nothing, so a repeated release reports nothing new.
   */
  /** Terminates pods with our name prefix that no live run claims (see TrainingBackend.reap). */
  async reap(keep: (jobName: string) => boolean): Promise<number> {
    const prefix = this.opts.podNamePrefix ?? 'likeness-';
    let freed = 0;
    for (const pod of await this.pods.listPods()) {
      if (pod.status === 'TERMINATED' || !pod.name.startsWith(prefix)) continue;
      if (keep(pod.name.slice(prefix.length))) continue;
      // A pod created moments ago may belong to a run created after the caller's snapshot.
      if (this.now() - Date.parse(pod.createdAt) < REAP_MIN_AGE_MS) continue;
      await this.pods.terminatePod(pod.id);
      freed++;
    }
    return freed;
  }

  async release(handle: TrainingHandle): Promise<ReleaseReport> {
    const h = asPodHandle(handle);
    const named = (await this.pods.listPods()).filter((p) => p.name === h.podName && p.status !== 'TERMINATED');
    const own = named.some((p) => p.id === h.podId) ? null : await this.pods.getPod(h.podId);
    const targets = own && own.status !== 'TERMINATED' ? [...named, own] : named;
    let gpuSeconds = 0;
    let costUsd = 0;
    for (const pod of targets) {
      await this.pods.terminatePod(pod.id);
      if (!pod.startedAt) continue;
      const seconds = Math.max(0, (this.now() - Date.parse(pod.startedAt)) / 1000);
      const rate = pod.cost > 0 ? pod.cost : pod.id === h.podId ? h.costPerHourUsd : 0;
      gpuSeconds += seconds;
      costUsd += (rate * seconds) / 3600;
    }
    if (targets.length === 0) return {};
    return { gpuSeconds: Math.round(gpuSeconds), costUsd: Math.round(costUsd * 10_000) / 10_000 };
  }

  /** Container uptime: RunPod's runtime.uptime when reported, else since startedAt. */
  private containerUptimeMs(pod: RunpodPod): number {
    const uptime = pod.runtime?.uptime;
    if (typeof uptime === 'number') return uptime * 1000;
    return pod.startedAt ? this.now() - Date.parse(pod.startedAt) : 0;
  }

  /**
   * `podNotRunning`: the start time-out applies only while the pod itself is not RUNNING (no
   * machine, image still pulling): such a pod is given up as preempted. Once it runs, the UI's own
   * boot is bounded by uiBootGraceMs instead, measured on the container, so a healthy long
   * training is never mistaken for a slow start.
   */
  private starting(h: RunpodPodHandle, message: string, podNotRunning: boolean): TrainingStatus {
    const waitedMs = this.now() - Date.parse(h.createdAt);
    const limit = this.opts.startTimeoutMs ?? 45 * 60_000;
    if (podNotRunning && waitedMs > limit) {
      throw new ProviderError(
        'preempted',
        `Pod ${h.podId} did not start within ${Math.round(limit / 60_000)} min (${message}).`,
        RUNPOD_PROVIDER,
      );
    }
    return {
      state: 'starting',
      progress: { step: 0, totalSteps: h.recipe.steps, message },
      emulated: this.opts.emulated ?? false,
    };
  }

  private uiClient(h: RunpodPodHandle): AitkUiClient {
    return new AitkUiClient({
      baseUrl: this.uiUrlFor(h.podId),
      token: h.uiToken,
      timeoutMs: this.opts.requestTimeoutMs,
      uploadTimeoutMs: this.opts.uploadTimeoutMs,
      downloadIdleTimeoutMs: this.opts.downloadIdleTimeoutMs,
      fetch: this.opts.fetch,
    });
  }

  /**
   * Tries the GPU types in order. RunPod answers 400 both for "cannot place this GPU now" and for a
   * rule broken by the body, and 403 for a pool the account cannot use: both mean "next
   * candidate" (the API's own guidance). When every candidate is refused with 400, capacity is the
   * likely cause (the body is fixed and tested), so the fault is transient and the caller's capped
   * retries apply; 402 (no balance) and 422 (contract violation) stop at once as fatal.
   */
  private async createPod(podName: string, signal?: AbortSignal): Promise<RunpodPod> {
    let last: ProviderError | undefined;
    for (const gpuTypeId of this.opts.gpuTypeIds) {
      try {
        return await this.pods.createPod(this.createRequest(podName, gpuTypeId), signal);
      } catch (err) {
        if (err instanceof ProviderError && (err.httpStatus === 400 || err.httpStatus === 403)) {
          last = err;
          continue;
        }
        throw err;
      }
    }
    throw new ProviderError(
      'transient',
      `No pod could be placed on ${this.opts.gpuTypeIds.join(', ')}: ${last?.message ?? 'refused'}`,
      RUNPOD_PROVIDER,
      last?.httpStatus,
    );
  }

  private createRequest(podName: string, gpuTypeId: string): RunpodCreatePodRequest {
    const gpu: RunpodCreatePodRequest['gpu'] = { id: gpuTypeId, count: 1 };
    if (this.opts.allowedCudaVersions?.length) gpu.allowedCudaVersions = this.opts.allowedCudaVersions;
    const body: RunpodCreatePodRequest = {
      name: podName,
      image: this.opts.image ?? AITK_IMAGE,
      gpu,
      disk: this.opts.containerDiskGb ?? 100,
      mounts: { persistent: { size: this.opts.volumeGb ?? 20, path: '/workspace' } },
      ports: [`${AITK_PORT}/http`],
      // 32 random bytes: the UI is public behind the proxy and this token is its only lock.
      env: { AI_TOOLKIT_AUTH: randomBytes(32).toString('hex') },
    };
    if (this.opts.cloud) body.cloud = this.opts.cloud;
    if (this.opts.dataCenterIds?.length) body.dataCenterIds = this.opts.dataCenterIds;
    return body;
  }
}

function asPodHandle(handle: TrainingHandle): RunpodPodHandle {
  const h = handle as Partial<RunpodPodHandle>;
  if (
    h.backend !== 'runpod' ||
    typeof h.podId !== 'string' ||
    typeof h.podName !== 'string' ||
    typeof h.uiToken !== 'string' ||
    typeof h.createdAt !== 'string' ||
    !h.recipe ||
    !h.dataset
  ) {
    throw new ProviderError('fatal', `Not a RunPod pod handle: ${JSON.stringify({ backend: h.backend, jobName: h.jobName })}.`, RUNPOD_PROVIDER);
  }
  return h as RunpodPodHandle;
}
