/**
 * ComfyUI's WebSocket `GET /ws?clientId=<id>` (contracts §4.4): text frames `{type, data}`. On
 * connect the client gets `status` with its `sid`; per-prompt events go to the socket of the
 * prompt's client_id, broadcasts (sid null) to every socket. A reconnect with the same clientId
 * replaces the old socket, as ComfyUI's session map does.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ComfyEngine, ComfyMessage } from './comfy-engine.js';

export class ComfySocketServer {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Map<string, WebSocket>();

  constructor(private readonly engine: ComfyEngine) {
    engine.events.on('message', (m: ComfyMessage) => this.route(m));
  }

  /** Takes over an HTTP upgrade for the ws path; the caller decides which paths those are. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, clientId: string | null): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const sid = clientId || randomUUID().replace(/-/g, '');
      const previous = this.sockets.get(sid);
      if (previous && previous !== ws) previous.close();
      this.sockets.set(sid, ws);
      ws.on('close', () => {
        if (this.sockets.get(sid) === ws) this.sockets.delete(sid);
      });
      // Clients may send feature flags; the emulator advertises none and ignores the rest.
      ws.on('message', () => {});
      this.send(ws, { type: 'status', data: { status: { exec_info: { queue_remaining: this.engine.queueRemaining() } }, sid } });
    });
  }

  private route(m: ComfyMessage): void {
    const frame = { type: m.type, data: m.data };
    if (m.sid === null) {
      for (const ws of this.sockets.values()) this.send(ws, frame);
      return;
    }
    const ws = this.sockets.get(m.sid);
    if (ws) this.send(ws, frame);
  }

  private send(ws: WebSocket, frame: { type: string; data: Record<string, unknown> }): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  }

  async close(): Promise<void> {
    for (const ws of this.sockets.values()) ws.terminate();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
