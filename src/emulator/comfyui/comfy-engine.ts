/**
 * The emulated ComfyUI's prompt queue and executor (COMFY `server.py` post_prompt, `main.py`
 * prompt_worker, `execution.py` PromptExecutor, reduced to what clients can observe):
 *
 *   POST /prompt -> validate -> queue (ordered by `number`) -> one prompt at a time:
 *   execution_start, execution_cached, executing(node) ..., progress(value/max) per sampler step,
 *   executed(output node, images), execution_success | execution_error | execution_interrupted,
 *   history written, then executing(node: null) — the completion signal clients wait for.
 *
 * Per-prompt events go only to the socket of the prompt's client_id; without a client_id only
 * progress is broadcast (contracts §4.4). Settings and one-shot faults are changed through the
 * control API: step time, faceless outputs, execution errors, LoRAs the host cannot see.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TimerSet } from '../timer-set.js';
import { NODE_CLASSES } from './comfy-node.registry.js';
import { renderOutput } from './comfy-output.renderer.js';
import { validatePrompt, type NodeErrors, type PromptGraph, type ValidationError } from './comfy-prompt.validator.js';
import type { ComfyHostFiles } from './comfy-host.files.js';

export interface ComfyMessage {
  type: string;
  data: Record<string, unknown>;
  /** The client socket it is for; null = every socket. */
  sid: string | null;
}

export interface OutputImage {
  filename: string;
  subfolder: string;
  type: 'output' | 'temp';
}

export type QueueTuple = [number, string, PromptGraph, Record<string, unknown>, string[]];

export interface HistoryItem {
  prompt: QueueTuple;
  outputs: Record<string, { images: OutputImage[] }>;
  status: { status_str: 'success' | 'error'; completed: boolean; messages: Array<[string, Record<string, unknown>]> };
  meta: Record<string, { node_id: string; display_node: string; parent_node: null; real_node_id: string }>;
}

export interface ComfySettings {
  /** Wall time of one sampler step. */
  stepMs: number;
  /** The next N output images have no face (an identity check then fails). */
  facelessNextOutputs: number;
  /** The next N prompts fail in their sampler with an execution_error. */
  failNextPrompts: number;
  /** False: the loras folder looks empty to ComfyUI (a LoRA delivered where ComfyUI does not read). */
  lorasVisible: boolean;
  /** The next N LoRA downloads of the serverless worker fail. */
  failNextLoraDownloads: number;
  /** The next N requests to the ComfyUI or serverless routes answer 503. */
  failNextRequests: number;
}

export const DEFAULT_COMFY_SETTINGS: ComfySettings = {
  stepMs: 10,
  facelessNextOutputs: 0,
  failNextPrompts: 0,
  lorasVisible: true,
  failNextLoraDownloads: 0,
  failNextRequests: 0,
};

interface QueueEntry {
  number: number;
  promptId: string;
  graph: PromptGraph;
  extraData: Record<string, unknown>;
  outputs: string[];
  clientId: string | null;
  interrupted: boolean;
}

export type SubmitResult =
  | { status: 200; body: { prompt_id: string; number: number; node_errors: Record<string, NodeErrors> } }
  | { status: 400; body: { error: ValidationError; node_errors: Record<string, NodeErrors> } };

const MAX_HISTORY = 10_000;
const MAX_PROGRESS_EVENTS = 40;

export class ComfyEngine {
  readonly events = new EventEmitter();
  readonly settings: ComfySettings = { ...DEFAULT_COMFY_SETTINGS };
  /** LoRA file name -> the face photo a LoRA of that name renders (set through the control API). */
  readonly loraFaces = new Map<string, Buffer>();
  private readonly queue: QueueEntry[] = [];
  private running: QueueEntry | null = null;
  private readonly history = new Map<string, HistoryItem>();
  private readonly counters = new Map<string, number>();
  private number = 0;
  private closed = false;

  constructor(
    readonly files: ComfyHostFiles,
    private readonly timers: TimerSet,
    private readonly log: (msg: string) => void,
  ) {
    this.events.setMaxListeners(0);
  }

  /** What LoraLoader's combo lists: nothing while the control API hides the folder. */
  visibleLoras(): string[] {
    return this.settings.lorasVisible ? this.files.loras() : [];
  }

  queueRemaining(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  submit(body: unknown): SubmitResult {
    const json = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    if (!('prompt' in json)) {
      return { status: 400, body: { error: { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} }, node_errors: {} } };
    }
    let number = this.number;
    if (json.front === true) number = -number;
    this.number += 1;
    if (typeof json.number === 'number') number = json.number;
    const checked = validatePrompt(json.prompt, { loras: () => this.visibleLoras(), inputImages: () => this.files.inputImages() });
    if (!checked.ok) {
      this.log(`comfyui: invalid prompt: ${checked.error.type} ${checked.error.details.split('\n')[0]}`);
      return { status: 400, body: { error: checked.error, node_errors: checked.nodeErrors } };
    }
    const promptId = typeof json.prompt_id === 'string' && json.prompt_id ? json.prompt_id : randomUUID();
    const extraData = { ...((json.extra_data as Record<string, unknown> | undefined) ?? {}) };
    const clientId = typeof json.client_id === 'string' && json.client_id ? json.client_id : null;
    if (clientId) extraData.client_id = clientId;
    this.queue.push({ number, promptId, graph: structuredClone(checked.graph), extraData, outputs: checked.outputs, clientId, interrupted: false });
    this.queue.sort((a, b) => a.number - b.number);
    this.broadcastStatus();
    queueMicrotask(() => void this.kick());
    return { status: 200, body: { prompt_id: promptId, number, node_errors: checked.nodeErrors } };
  }

  getHistory(promptId: string): HistoryItem | undefined {
    return this.history.get(promptId);
  }

  listHistory(maxItems?: number, offset = -1): Record<string, HistoryItem> {
    const entries = [...this.history.entries()];
    let start = offset;
    if (start < 0 && maxItems !== undefined) start = entries.length - maxItems;
    const picked = entries.slice(Math.max(0, start), maxItems !== undefined ? Math.max(0, start) + maxItems : undefined);
    return Object.fromEntries(picked);
  }

  deleteHistory(ids: string[] | 'all'): void {
    if (ids === 'all') this.history.clear();
    else for (const id of ids) this.history.delete(id);
  }

  queueState(): { queue_running: QueueTuple[]; queue_pending: QueueTuple[] } {
    return { queue_running: this.running ? [tuple(this.running)] : [], queue_pending: this.queue.map(tuple) };
  }

  /** POST /queue {delete|clear}: only pending prompts are removed. */
  deleteQueued(ids: string[] | 'all'): void {
    const before = this.queue.length;
    for (let i = this.queue.length - 1; i >= 0; i--) if (ids === 'all' || ids.includes(this.queue[i]!.promptId)) this.queue.splice(i, 1);
    if (this.queue.length !== before) this.broadcastStatus();
  }

  /** POST /interrupt: the running prompt (or only the named one) stops at its next step. */
  interrupt(promptId?: string): void {
    if (this.running && (!promptId || this.running.promptId === promptId)) this.running.interrupted = true;
  }

  /** Resolves when the prompt is in the history (success, error or interrupted). */
  waitFor(promptId: string): Promise<HistoryItem> {
    const done = this.history.get(promptId);
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => {
      const onDone = (id: string) => {
        if (id !== promptId) return;
        this.events.off('done', onDone);
        resolve(this.history.get(promptId)!);
      };
      this.events.on('done', onDone);
    });
  }

  close(): void {
    this.closed = true;
    this.events.removeAllListeners();
  }

  private emit(type: string, data: Record<string, unknown>, sid: string | null): void {
    this.events.emit('message', { type, data, sid } satisfies ComfyMessage);
  }

  private broadcastStatus(): void {
    this.emit('status', { status: { exec_info: { queue_remaining: this.queueRemaining() } } }, null);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.timers.after(ms, resolve));
  }

  private async kick(): Promise<void> {
    if (this.running || this.closed) return;
    const next = this.queue.shift();
    if (!next) return;
    this.running = next;
    this.broadcastStatus();
    try {
      await this.execute(next);
    } catch (err) {
      this.log(`comfyui: executor crashed on ${next.promptId}: ${(err as Error).stack ?? err}`);
    } finally {
      this.running = null;
      if (!this.closed) {
        this.broadcastStatus();
        void this.kick();
      }
    }
  }

  private async execute(entry: QueueEntry): Promise<void> {
    const { promptId, clientId: sid } = entry;
    const messages: Array<[string, Record<string, unknown>]> = [];
    // Stored in the history and sent to the prompt's client; nothing is sent without a client_id.
    const add = (type: string, data: Record<string, unknown>, broadcast = false) => {
      messages.push([type, data]);
      if (sid || broadcast) this.emit(type, data, broadcast ? null : sid);
    };
    const send = (type: string, data: Record<string, unknown>) => {
      if (sid) this.emit(type, data, sid);
    };
    add('execution_start', { prompt_id: promptId, timestamp: Date.now() });
    add('execution_cached', { nodes: [], prompt_id: promptId, timestamp: Date.now() });

    const order = executionOrder(entry.graph, entry.outputs);
    const outputs: HistoryItem['outputs'] = {};
    const executed: string[] = [];
    let outcome: 'success' | 'error' = 'success';
    for (const nodeId of order) {
      const node = entry.graph[nodeId]!;
      const cls = NODE_CLASSES[node.class_type]!;
      if (entry.interrupted) {
        add('execution_interrupted', { prompt_id: promptId, node_id: nodeId, node_type: node.class_type, executed, timestamp: Date.now() }, true);
        outcome = 'error';
        break;
      }
      send('executing', { node: nodeId, display_node: nodeId, prompt_id: promptId });
      if (cls.sampler) {
        const failed = await this.sample(entry, nodeId);
        if (failed) {
          add('execution_error', {
            prompt_id: promptId,
            node_id: nodeId,
            node_type: node.class_type,
            executed: [...executed],
            exception_message: failed,
            exception_type: 'torch.OutOfMemoryError',
            traceback: ['  File "/comfyui/execution.py", line 496, in execute\n'],
            current_inputs: {},
            current_outputs: {},
            timestamp: Date.now(),
          });
          outcome = 'error';
          break;
        }
        if (entry.interrupted) continue;
      }
      if (cls.outputNode) {
        const images = await this.renderNode(entry, nodeId);
        outputs[nodeId] = { images };
        send('executed', { node: nodeId, display_node: nodeId, output: { images }, prompt_id: promptId });
      }
      executed.push(nodeId);
    }
    if (outcome === 'success') add('execution_success', { prompt_id: promptId, timestamp: Date.now() });
    if (this.history.size >= MAX_HISTORY) this.history.delete(this.history.keys().next().value!);
    this.history.set(promptId, {
      prompt: tuple(entry),
      outputs,
      status: { status_str: outcome, completed: outcome === 'success', messages },
      meta: Object.fromEntries(Object.keys(outputs).map((id) => [id, { node_id: id, display_node: id, parent_node: null, real_node_id: id }])),
    });
    this.events.emit('done', promptId);
    send('executing', { node: null, prompt_id: promptId });
  }

  /** Runs a sampler's steps with progress events; returns an error message when a fault hits. */
  private async sample(entry: QueueEntry, nodeId: string): Promise<string | null> {
    const steps = Math.max(1, Math.trunc(Number(entry.graph[nodeId]!.inputs.steps) || 1));
    const every = Math.max(1, Math.ceil(steps / MAX_PROGRESS_EVENTS));
    for (let step = 1; step <= steps; step++) {
      await this.sleep(this.settings.stepMs);
      if (entry.interrupted || this.closed) return null;
      if (step === Math.ceil(steps / 2) && this.settings.failNextPrompts > 0) {
        this.settings.failNextPrompts -= 1;
        return 'Allocation on device 0 would exceed allowed memory. (out of memory)\nCurrently allocated     : 22.41 GiB';
      }
      if (step % every === 0 || step === steps) {
        // Progress is the one per-prompt event ComfyUI broadcasts when the prompt has no client.
        this.emit('progress', { value: step, max: steps, prompt_id: entry.promptId, node: nodeId }, entry.clientId);
      }
    }
    return null;
  }

  private async renderNode(entry: QueueEntry, nodeId: string): Promise<OutputImage[]> {
    const node = entry.graph[nodeId]!;
    const ancestors = upstream(entry.graph, nodeId);
    const latent = ancestors.map((id) => entry.graph[id]!).find((n) => /^Empty.*Latent/.test(n.class_type));
    const width = Number(latent?.inputs.width) || 1024;
    const height = Number(latent?.inputs.height) || 1024;
    const batch = Math.max(1, Math.min(8, Number(latent?.inputs.batch_size) || 1));
    const sampler = ancestors.map((id) => entry.graph[id]!).find((n) => NODE_CLASSES[n.class_type]?.sampler);
    const seed = Number(sampler?.inputs.seed ?? sampler?.inputs.noise_seed ?? 0) || 0;
    const type: OutputImage['type'] = node.class_type === 'SaveImage' ? 'output' : 'temp';
    const rawPrefix = type === 'output' ? String(node.inputs.filename_prefix ?? 'ComfyUI') : `ComfyUI_temp_${promptTag(entry.promptId)}`;
    const slash = rawPrefix.lastIndexOf('/');
    const subfolder = slash === -1 ? '' : rawPrefix.slice(0, slash);
    const base = slash === -1 ? rawPrefix : rawPrefix.slice(slash + 1);
    const images: OutputImage[] = [];
    for (let i = 0; i < batch; i++) {
      const face = await this.faceFor(entry.graph, ancestors);
      const png = await renderOutput({ face, seed, index: i, width, height, prompt: entry.graph });
      const key = `${type}/${subfolder}/${base}`;
      const counter = (this.counters.get(key) ?? 0) + 1;
      this.counters.set(key, counter);
      const filename = `${base}_${String(counter).padStart(5, '0')}_.png`;
      const target = this.files.resolve(type, subfolder, filename);
      if (!target.ok) continue;
      await mkdir(path.dirname(target.file), { recursive: true });
      await writeFile(target.file, png);
      images.push({ filename, subfolder, type });
    }
    return images;
  }

  /**
   * The face an output is derived from: a LoRA whose file the control API bound to a photo first
   * (the LoRA "learned" that face), else a LoadImage input (the face-swap reference), else none.
   */
  private async faceFor(graph: PromptGraph, ancestors: string[]): Promise<Buffer | null> {
    if (this.settings.facelessNextOutputs > 0) {
      this.settings.facelessNextOutputs -= 1;
      return null;
    }
    for (const id of ancestors) {
      const name = graph[id]!.inputs.lora_name;
      if (typeof name === 'string' && this.loraFaces.has(name)) return this.loraFaces.get(name)!;
    }
    for (const id of ancestors) {
      const node = graph[id]!;
      if (node.class_type !== 'LoadImage') continue;
      const target = this.files.resolve('input', '', String(node.inputs.image));
      if (target.ok && this.files.isFile(target.file)) return readFile(target.file);
    }
    return null;
  }
}

function tuple(e: QueueEntry): QueueTuple {
  return [e.number, e.promptId, e.graph, e.extraData, e.outputs];
}

function promptTag(promptId: string): string {
  return promptId.replace(/[^a-z0-9]/gi, '').slice(0, 5).toLowerCase();
}

function linksOf(node: { inputs: Record<string, unknown> }): string[] {
  return Object.values(node.inputs ?? {})
    .filter((v): v is [string, number] => Array.isArray(v) && v.length === 2 && typeof v[0] === 'string')
    .map((v) => v[0]);
}

/** Every node an output depends on, dependencies first (ComfyUI runs only what outputs need). */
function executionOrder(graph: PromptGraph, outputs: string[]): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id) || !graph[id]) return;
    seen.add(id);
    for (const dep of linksOf(graph[id]!)) visit(dep);
    order.push(id);
  };
  for (const o of [...outputs].sort()) visit(o);
  return order;
}

/** The node's ancestors, nearest first (breadth-first), for finding its latent, sampler and faces. */
function upstream(graph: PromptGraph, nodeId: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>([nodeId]);
  let frontier = [nodeId];
  while (frontier.length) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const dep of linksOf(graph[id] ?? { inputs: {} })) {
        if (seen.has(dep) || !graph[dep]) continue;
        seen.add(dep);
        out.push(dep);
        next.push(dep);
      }
    }
    frontier = next;
  }
  return out;
}
