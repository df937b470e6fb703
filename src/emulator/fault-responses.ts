/**
 * What an injected fault looks like on the wire, per provider:
 * - RunPod API: a problem object with the status (what its gateway answers on an upstream failure);
 * - an AI Toolkit UI (pod proxy or standalone): 500 as a crashed Next.js route answers (empty body),
 *   502 as its front server answers while Next.js is down ("UI server unavailable"), 503 as an
 *   overloaded edge answers (plain text);
 * - a hang: no answer at all; the socket is closed after HANG_MS, as an edge would, so a client
 *   without its own timeout still gets an error eventually.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeProblem } from './runpod-problem.js';
import type { TimerSet } from './timer-set.js';

export const HANG_MS = 30_000;

export type Provider = 'runpod' | 'aitk';

export function writeFaultResponse(res: ServerResponse, provider: Provider, status: 500 | 502 | 503): void {
  if (provider === 'runpod') {
    writeProblem(res, status, status === 500 ? 'internal error' : status === 502 ? 'upstream service error' : 'service temporarily unavailable');
    return;
  }
  const body = status === 500 ? '' : status === 502 ? 'UI server unavailable' : 'Service Unavailable';
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Never answers; drains the body so the client finishes sending, and cuts the socket later. */
export function hang(req: IncomingMessage, res: ServerResponse, timers: TimerSet): void {
  req.resume();
  const cancel = timers.after(HANG_MS, () => res.socket?.destroy());
  res.on('close', cancel);
}
