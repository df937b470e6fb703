/**
 * The emulated RunPod pods: records, the status machine and its timers, and the `Pod` wire shape.
 *
 * Status machine (RunPod's own rules, from the OpenAPI `podAction` description):
 *   create  -> PROVISIONING -> STARTING -> RUNNING          (over bootSeconds; services answer at the end)
 *   stop    (PROVISIONING | STARTING | RUNNING) -> EXITED   (container disk wiped; services down)
 *   start   (EXITED | ERROR) -> STARTING -> RUNNING
 *   restart (RUNNING) -> STARTING -> RUNNING                (same container disk; processes killed)
 *   terminate / DELETE (any but TERMINATED) -> TERMINATED
 *   preempt (fault injection) RUNNING -> EXITED, like a spot/interruptible pod losing its machine.
 *
 * Whether a terminated pod reads TERMINATED or 404 is unverified (contracts §6, §7.4): it reads
 * TERMINATED for TERMINATED_RETENTION_MS, then 404, and it never appears in `GET /v2/pods` (the
 * OpenAPI DELETE description says so).
 */
import { randomInt } from 'node:crypto';
import { CUDA_VERSIONS, findGpuType } from './runpod-gpu-catalog.js';
import { TimerSet } from './timer-set.js';

export type PodStatus = 'PROVISIONING' | 'STARTING' | 'RUNNING' | 'EXITED' | 'ERROR' | 'TERMINATED';
export type PodAction = 'start' | 'stop' | 'restart' | 'terminate';
export type ContainerDownReason = 'stop' | 'restart' | 'terminate' | 'preempt';

const ACTIONS: Record<PodStatus, PodAction[]> = {
  PROVISIONING: ['stop', 'terminate'],
  STARTING: ['stop', 'terminate'],
  RUNNING: ['stop', 'restart', 'terminate'],
  EXITED: ['start', 'terminate'],
  ERROR: ['start', 'terminate'],
  TERMINATED: [],
};

const TERMINATED_RETENTION_MS = 5 * 60_000;
const PUBLIC_IP = '195.26.233.3';

export interface PodRecord {
  id: string;
  name: string;
  image: string;
  args: string;
  disk: number;
  env: Record<string, string>;
  ports: string[];
  registry: string | null;
  mounts: Record<string, unknown>;
  gpu: { id: string; count: number } | null;
  cpu: { id: string; vcpuCount: number; memory: number } | null;
  cloud: 'SECURE' | 'COMMUNITY';
  dataCenterId: string;
  cudaVersion: string | null;
  template: string | null;
  locked: boolean;
  globalNetworking: boolean;
  /** Dollars per hour. */
  cost: number;
  status: PodStatus;
  createdAt: Date;
  startedAt: Date | null;
  /** When the current container last reached RUNNING (runtime.uptime). */
  runningSince: Date | null;
  terminatedAt: Date | null;
  /** Public ports of tcp mappings, fixed for the pod's life. */
  tcpPublicPorts: Record<number, number>;
  /** True between "services answer" and the container going down. */
  servicesUp: boolean;
}

/** What runs inside a pod's container (the AI Toolkit UI, later ComfyUI). */
export interface PodContainerHooks {
  /** The container's services start answering (bootSeconds after a create, start or restart). */
  servicesUp(pod: PodRecord): void;
  /** The container stops. 'restart' keeps the container disk; the others lose it. */
  servicesDown(pod: PodRecord, reason: ContainerDownReason): void;
  /** GPU utilisation 0..100 for runtime.gpus (busy while a training runs). */
  gpuUtil?(pod: PodRecord): number;
}

/** A create or update that matches the schema but breaks a rule or cannot be placed (RunPod 400). */
export class PodRequestRejected extends Error {}

export type ActionResult = { ok: true; pod: PodRecord } | { ok: false; reason: 'not-found' } | { ok: false; reason: 'conflict'; status: PodStatus };

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
function newPodId(): string {
  let id = '';
  for (let i = 0; i < 14; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

/** RFC 3339 without fractions, as RunPod prints timestamps. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function checkPorts(ports: string[]): void {
  let http = 0;
  for (const p of ports) {
    const m = /^(\d{1,5})\/(http|tcp|udp)$/.exec(p);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new PodRequestRejected(`invalid port '${p}': expected '<port>/http' or '<port>/tcp'`);
    if (m[2] === 'http') http++;
  }
  if (http > 10) throw new PodRequestRejected('at most 10 http ports can be exposed');
}

function checkMounts(mounts: Record<string, unknown> | undefined): void {
  if (mounts && mounts.persistent !== undefined && mounts.network !== undefined) {
    throw new PodRequestRejected('mounts.persistent and mounts.network are mutually exclusive');
  }
}

function cmpVersion(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am !== bm ? am - bm : an - bn;
}

/** Body of `POST /v2/pods`, already checked against CreatePodRequest. */
export interface CreatePodBody {
  name: string;
  image?: string;
  args?: string;
  disk?: number;
  env?: Record<string, string>;
  ports?: string[];
  registry?: string | null;
  cloud?: 'SECURE' | 'COMMUNITY';
  cpu?: { id: string; vcpuCount: number };
  gpu?: { id: string; count?: number; allowedCudaVersions?: string[]; minCudaVersion?: string };
  dataCenterIds?: string[];
  globalNetworking?: boolean;
  mounts?: Record<string, unknown>;
  startJupyter?: boolean;
  startSsh?: boolean;
  templateId?: string;
}

/** Body of `PATCH /v2/pods/{id}`, already checked against UpdatePodRequest. */
export interface UpdatePodBody {
  name?: string;
  image?: string;
  args?: string;
  disk?: number;
  env?: Record<string, string>;
  ports?: string[];
  registry?: string | null;
  mounts?: Record<string, unknown>;
  locked?: boolean;
  globalNetworking?: boolean;
  templateId?: string;
}

/** The AI Toolkit RunPod template from ostris' README; its real contents are unverified (contracts §7.6). */
const AITK_TEMPLATE_ID = '0fqzfjy6f3';

export class PodStore {
  private readonly pods = new Map<string, PodRecord>();
  private readonly timers = new Map<string, TimerSet>();

  constructor(
    private readonly rootTimers: TimerSet,
    private readonly bootSeconds: number,
    private readonly hooks: PodContainerHooks,
    private readonly log: (msg: string) => void,
  ) {}

  create(body: CreatePodBody): PodRecord {
    if ((body.gpu === undefined) === (body.cpu === undefined)) throw new PodRequestRejected('exactly one of gpu or cpu must be set');
    checkMounts(body.mounts);
    const ports = body.ports ?? [];
    checkPorts(ports);
    const cloud = body.cloud ?? 'SECURE';

    let gpu: PodRecord['gpu'] = null;
    let cpu: PodRecord['cpu'] = null;
    let cost: number;
    let dataCenterId: string;
    let cudaVersion: string | null = null;
    if (body.gpu) {
      const type = findGpuType(body.gpu.id);
      if (!type) throw new PodRequestRejected(`could not place pod: unknown GPU type '${body.gpu.id}'`);
      const count = body.gpu.count ?? 1;
      const max = cloud === 'SECURE' ? type.maxCount.secure : type.maxCount.community;
      if (count > max) throw new PodRequestRejected(`could not place pod: at most ${max} x ${type.id} per pod in ${cloud} cloud`);
      let versions: string[] = [...CUDA_VERSIONS];
      if (body.gpu.allowedCudaVersions) versions = versions.filter((v) => body.gpu!.allowedCudaVersions!.includes(v));
      if (body.gpu.minCudaVersion) versions = versions.filter((v) => cmpVersion(v, body.gpu!.minCudaVersion!) >= 0);
      if (versions.length === 0) throw new PodRequestRejected(`could not place pod: no ${type.id} host with an allowed CUDA version is available`);
      cudaVersion = body.gpu.allowedCudaVersions || body.gpu.minCudaVersion ? versions[versions.length - 1]! : '12.8';
      const centers = type.dataCenters.filter((d) => !body.dataCenterIds || body.dataCenterIds.includes(d.id));
      if (centers.length === 0) throw new PodRequestRejected(`could not place pod: no ${type.id} capacity in the requested data centers`);
      dataCenterId = centers[0]!.id;
      gpu = { id: type.id, count };
      cost = Math.round((cloud === 'SECURE' ? type.price.secure : type.price.community) * count * 1000) / 1000;
    } else {
      cpu = { id: body.cpu!.id, vcpuCount: body.cpu!.vcpuCount, memory: body.cpu!.vcpuCount * 4 };
      dataCenterId = body.dataCenterIds?.[0] ?? 'US-KS-2';
      cost = Math.round(0.03 * body.cpu!.vcpuCount * 1000) / 1000;
    }

    const id = newPodId();
    const tcpPublicPorts: Record<number, number> = {};
    for (const p of ports) if (p.endsWith('/tcp')) tcpPublicPorts[Number(p.split('/')[0])] = 20000 + randomInt(40000);
    const image = body.image ?? (body.templateId === AITK_TEMPLATE_ID ? 'ostris/aitoolkit:latest' : 'runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404');
    const pod: PodRecord = {
      id,
      name: body.name,
      image,
      args: body.args ?? '',
      disk: body.disk ?? 50,
      env: { ...(body.env ?? {}) },
      ports: [...ports],
      registry: body.registry ?? null,
      mounts: body.mounts ? structuredClone(body.mounts) : {},
      gpu,
      cpu,
      cloud,
      dataCenterId,
      cudaVersion,
      template: body.templateId ?? null,
      locked: false,
      globalNetworking: body.globalNetworking ?? false,
      cost,
      status: 'PROVISIONING',
      createdAt: new Date(),
      startedAt: null,
      runningSince: null,
      terminatedAt: null,
      tcpPublicPorts,
      servicesUp: false,
    };
    this.pods.set(id, pod);
    this.timers.set(id, this.rootTimers.child());
    this.log(`pod ${id} "${pod.name}" created (${gpu ? `${gpu.count}x ${gpu.id}` : `cpu ${cpu!.id}`}, $${cost}/h)`);
    this.boot(pod, 'PROVISIONING');
    return pod;
  }

  /** A pod as `GET /v2/pods/{id}` sees it (terminated pods vanish after the retention time). */
  get(id: string): PodRecord | undefined {
    const pod = this.pods.get(id);
    if (!pod) return undefined;
    if (pod.status === 'TERMINATED' && pod.terminatedAt && Date.now() - pod.terminatedAt.getTime() > TERMINATED_RETENTION_MS) return undefined;
    return pod;
  }

  /** Any pod ever created, terminated or not (proxy answers, snapshot). */
  find(id: string): PodRecord | undefined {
    return this.pods.get(id);
  }

  /** `GET /v2/pods`: oldest first; terminated pods are gone. */
  list(): PodRecord[] {
    return [...this.pods.values()].filter((p) => p.status !== 'TERMINATED');
  }

  all(): PodRecord[] {
    return [...this.pods.values()];
  }

  update(id: string, body: UpdatePodBody): PodRecord | undefined {
    const pod = this.get(id);
    if (!pod || pod.status === 'TERMINATED') return undefined;
    checkMounts(body.mounts);
    if (body.ports) checkPorts(body.ports);
    // Container settings (image, env, ports) reach the container on its next start or restart,
    // which is when the services read them (see PodContainerHooks.servicesUp).
    if (body.name !== undefined) pod.name = body.name;
    if (body.image !== undefined) pod.image = body.image;
    if (body.args !== undefined) pod.args = body.args;
    if (body.disk !== undefined) pod.disk = body.disk;
    if (body.env !== undefined) pod.env = { ...body.env };
    if (body.ports !== undefined) pod.ports = [...body.ports];
    if (body.registry !== undefined) pod.registry = body.registry;
    if (body.mounts !== undefined) pod.mounts = structuredClone(body.mounts);
    if (body.locked !== undefined) pod.locked = body.locked;
    if (body.globalNetworking !== undefined) pod.globalNetworking = body.globalNetworking;
    if (body.templateId !== undefined) pod.template = body.templateId;
    return pod;
  }

  action(id: string, action: PodAction): ActionResult {
    const pod = this.get(id);
    if (!pod || pod.status === 'TERMINATED') return { ok: false, reason: 'not-found' };
    if (!ACTIONS[pod.status].includes(action)) return { ok: false, reason: 'conflict', status: pod.status };
    switch (action) {
      case 'stop':
        this.down(pod, 'EXITED', 'stop');
        break;
      case 'terminate':
        this.down(pod, 'TERMINATED', 'terminate');
        break;
      case 'start':
        this.boot(pod, 'STARTING');
        break;
      case 'restart':
        this.down(pod, 'STARTING', 'restart');
        this.boot(pod, 'STARTING', true);
        break;
    }
    this.log(`pod ${id} ${action} -> ${pod.status}`);
    return { ok: true, pod };
  }

  /** Fault injection: the machine under a running pod goes away. */
  preempt(id: string): void {
    const pod = this.pods.get(id);
    if (!pod || pod.status !== 'RUNNING') return;
    this.down(pod, 'EXITED', 'preempt');
    this.log(`pod ${id} preempted -> EXITED`);
  }

  /** Walks a (re)booting pod to RUNNING and then to "services answer". */
  private boot(pod: PodRecord, from: 'PROVISIONING' | 'STARTING', restarting = false): void {
    const timers = this.timers.get(pod.id)!;
    timers.clear();
    pod.status = from;
    const ms = this.bootSeconds * 1000;
    if (from === 'PROVISIONING') timers.after(ms * 0.3, () => (pod.status = 'STARTING'));
    timers.after(ms * 0.6, () => {
      pod.status = 'RUNNING';
      const now = new Date();
      pod.runningSince = now;
      // A restart keeps the billing start; a start after EXITED begins a new one.
      if (!restarting || pod.startedAt === null) pod.startedAt = now;
    });
    timers.after(ms, () => {
      pod.servicesUp = true;
      this.hooks.servicesUp(pod);
    });
  }

  private down(pod: PodRecord, status: PodStatus, reason: ContainerDownReason): void {
    this.timers.get(pod.id)!.clear();
    pod.servicesUp = false;
    pod.status = status;
    pod.runningSince = null;
    if (status === 'TERMINATED') {
      pod.terminatedAt = new Date();
      this.timers.get(pod.id)!.close();
    }
    // Services get told even when they never came up, so they can drop what they prepared.
    this.hooks.servicesDown(pod, reason);
  }

  toWire(pod: PodRecord): Record<string, unknown> {
    const running = pod.status === 'RUNNING';
    const runtime: Record<string, unknown> = {};
    if (running && pod.runningSince) {
      const util = this.hooks.gpuUtil?.(pod) ?? 0;
      runtime.uptime = Math.floor((Date.now() - pod.runningSince.getTime()) / 1000);
      if (pod.gpu) runtime.gpus = Array.from({ length: pod.gpu.count }, () => ({ util, memoryUtil: util > 0 ? 83 : 2 }));
      runtime.cpu = { util: util > 0 ? 35 : 1 };
      runtime.memory = { util: util > 0 ? 41 : 6 };
      runtime.ports = pod.ports.map((spec) => {
        const [port, type] = spec.split('/');
        const priv = Number(port);
        return type === 'http'
          ? { private: priv, public: null, type: 'http', ip: null }
          : { private: priv, public: pod.tcpPublicPorts[priv] ?? null, type, ip: PUBLIC_IP };
      });
    }
    const sshPort = pod.tcpPublicPorts[22];
    const wire: Record<string, unknown> = {
      id: pod.id,
      name: pod.name,
      image: pod.image,
      args: pod.args,
      disk: pod.disk,
      ports: [...pod.ports],
      env: { ...pod.env },
      registry: pod.registry,
      status: pod.status,
      actions: [...ACTIONS[pod.status]],
      mounts: structuredClone(pod.mounts),
      cloud: pod.cloud,
      dataCenterId: pod.dataCenterId,
      cudaVersion: pod.cudaVersion,
      ssh: {
        proxy: { host: 'ssh.runpod.io', port: 22, username: `${pod.id}-64411eb2`, command: `ssh ${pod.id}-64411eb2@ssh.runpod.io` },
        direct: sshPort ? { host: PUBLIC_IP, port: sshPort, username: 'root', command: `ssh root@${PUBLIC_IP} -p ${sshPort}` } : null,
      },
      template: pod.template,
      cost: pod.cost,
      locked: pod.locked,
      globalNetworking: { enabled: pod.globalNetworking },
      runtime,
      createdAt: rfc3339(pod.createdAt),
      startedAt: pod.startedAt ? rfc3339(pod.startedAt) : null,
    };
    if (pod.gpu) wire.gpu = { ...pod.gpu };
    if (pod.cpu) wire.cpu = { ...pod.cpu };
    return wire;
  }

  close(): void {
    for (const t of this.timers.values()) t.close();
    this.timers.clear();
  }
}
