/**
 * The ComfyUI adapter's WebSocket (`/ws?clientId=`): ComfyUI pushes per-prompt events only to the
 * socket of the prompt's client id, so one socket per adapter sees every run it submitted. It keeps,
 * per prompt, what the HTTP history cannot tell while a run is in flight: started, sampler progress
 * and an execution error. The history stays the source of truth for the outcome; the socket is an
 * accelerator and may be down (then status falls back to /queue and /history).
 */
import WebSocket from 'ws';

export interface PromptProgress {
  started: boolean;
  progress?: { value: number; max: number };
  error?: string;
  done: boolean;
}

const RECONNECT_MS = 1000;

export class ComfyProgressSocket {
  private ws: WebSocket | null = null;
  private connecting: Promise<void> | null = null;
  private closed = false;
  private readonly prompts = new Map<string, PromptProgress>();

  constructor(
    private readonly url: string,
    private readonly log: (msg: string) => void = () => {},
  ) {}

  /** Opens the socket if it is not open; never throws (the adapter works without it). */
  connect(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return Promise.resolve();
    this.connecting ??= new Promise<void>((resolve) => {
      const ws = new WebSocket(this.url, { handshakeTimeout: 5000 });
      const settle = () => {
        this.connecting = null;
        resolve();
      };
      ws.once('open', () => {
        this.ws = ws;
        settle();
      });
      ws.once('error', (err) => {
        this.log(`comfyui websocket: ${err.message}`);
        settle();
      });
      ws.on('message', (data, isBinary) => {
        if (!isBinary) this.onMessage(data.toString());
      });
      ws.on('close', () => {
        if (this.ws === ws) this.ws = null;
        // Reconnect only while something is still waiting on it.
        if (!this.closed && [...this.prompts.values()].some((p) => !p.done)) setTimeout(() => void this.connect(), RECONNECT_MS).unref();
      });
    });
    return this.connecting;
  }

  get(promptId: string): PromptProgress | undefined {
    return this.prompts.get(promptId);
  }

  track(promptId: string): void {
    if (!this.prompts.has(promptId)) this.prompts.set(promptId, { started: false, done: false });
  }

  forget(promptId: string): void {
    this.prompts.delete(promptId);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.prompts.clear();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close();
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 1000).unref();
      });
    }
  }

  private onMessage(text: string): void {
    let msg: { type?: string; data?: Record<string, unknown> };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    const data = msg.data ?? {};
    const id = typeof data.prompt_id === 'string' ? data.prompt_id : null;
    if (!id) return;
    const p = this.prompts.get(id);
    if (!p) return;
    switch (msg.type) {
      case 'execution_start':
        p.started = true;
        break;
      case 'progress':
        p.started = true;
        p.progress = { value: Number(data.value) || 0, max: Number(data.max) || 0 };
        break;
      case 'execution_error':
        p.error = `${String(data.node_type)} (node ${String(data.node_id)}): ${String(data.exception_message)}`;
        break;
      case 'execution_interrupted':
        p.error = 'interrupted';
        break;
      case 'executing':
        if (data.node === null) p.done = true;
        else p.started = true;
        break;
    }
  }
}
