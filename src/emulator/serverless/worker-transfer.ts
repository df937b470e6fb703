/**
 * What the emulated serverless training worker does over HTTP, as the real worker's urllib code
 * does (workers/aitoolkit-serverless/handler.py): GET a dataset file or the claim marker from a
 * signed URL, PUT a file to a signed URL with an exact Content-Length (S3 presigned PUTs refuse
 * chunked bodies), computing the SHA-256 of what was sent.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const redact = (url: string) => url.split('?')[0];

export async function getBytes(url: string, signal: AbortSignal): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(url, { signal });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** PUTs `length` bytes from `body`; resolves with their SHA-256, rejects with a handler-style sentence. */
export async function putStream(url: string, body: Readable, length: number, signal: AbortSignal): Promise<string> {
  const target = new URL(url);
  const hash = createHash('sha256');
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const request = (target.protocol === 'https:' ? https : http).request(target, {
    method: 'PUT',
    headers: { 'content-length': String(length), 'content-type': 'application/octet-stream' },
    signal,
  });
  const answered = new Promise<number>((resolve, reject) => {
    request.once('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    request.once('error', reject);
  });
  try {
    await pipeline(body, meter, request);
    const status = await answered;
    if (status < 200 || status >= 300) throw new Error(`HTTP ${status}`);
  } catch (err) {
    throw new Error(`Uploading to ${redact(url)} failed: ${(err as Error).message}`);
  }
  return hash.digest('hex');
}

/** Resolves after `ms`, or at once (false) when the job is aborted. */
export function pause(ms: number, signal: AbortSignal, after: (ms: number, fn: () => void) => () => void): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      cancel();
      resolve(false);
    };
    const cancel = after(ms, () => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
