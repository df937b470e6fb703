/**
 * Range resume of /api/files downloads over real HTTP. The server here is a file server that
 * misbehaves on purpose (cuts the connection, stalls, ignores Range): the emulator serves files
 * correctly, and these are the failures a 300 MB download through RunPod's proxy meets.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/domain/errors.js';
import { AitkUiClient } from '../../src/training/aitoolkit/aitoolkit-ui.client.js';

const FILE = randomBytes(1_000_000);
const PATH = '/app/ai-toolkit/output/job/job.safetensors';

type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;
let server: http.Server | undefined;
const ranges: Array<string | undefined> = [];

async function serve(behaviour: Behaviour): Promise<string> {
  let n = 0;
  ranges.length = 0;
  server = http.createServer((req, res) => {
    ranges.push(req.headers.range);
    behaviour(req, res, n++);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

function sendRange(req: http.IncomingMessage, res: http.ServerResponse, honourRange = true): number {
  const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
  if (m && honourRange) {
    const start = Number(m[1]);
    res.writeHead(206, {
      'content-length': FILE.length - start,
      'content-range': `bytes ${start}-${FILE.length - 1}/${FILE.length}`,
    });
    return start;
  }
  res.writeHead(200, { 'content-length': FILE.length });
  return 0;
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

describe('AitkUiClient.downloadFile', () => {
  it('asks for the encoded path and streams the file', async () => {
    const url = await serve((req, res) => {
      expect(req.url).toBe('/api/files/%2Fapp%2Fai-toolkit%2Foutput%2Fjob/job.safetensors');
      sendRange(req, res);
      res.end(FILE);
    });
    const client = new AitkUiClient({ baseUrl: url, token: 't' });
    expect((await collect(await client.downloadFile(PATH))).equals(FILE)).toBe(true);
  });

  it('resumes with Range after the connection is cut mid-body', async () => {
    const url = await serve((req, res, n) => {
      const start = sendRange(req, res);
      if (n < 2) {
        // Send a third of what is left, then drop the socket.
        res.write(FILE.subarray(start, start + Math.floor((FILE.length - start) / 3)), () => res.destroy());
        return;
      }
      res.end(FILE.subarray(start));
    });
    const client = new AitkUiClient({ baseUrl: url, downloadMaxResumes: 3 });
    const data = await collect(await client.downloadFile(PATH, { expectedSize: FILE.length }));
    expect(data.equals(FILE)).toBe(true);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(ranges).toHaveLength(3);
  });

  it('resumes after a stall, and skips bytes when the server ignores Range', async () => {
    const url = await serve((req, res, n) => {
      const start = sendRange(req, res, false);
      if (n === 0) {
        res.write(FILE.subarray(start, 400_000)); // then silence
        return;
      }
      res.end(FILE.subarray(start));
    });
    const client = new AitkUiClient({ baseUrl: url, downloadIdleTimeoutMs: 300 });
    const data = await collect(await client.downloadFile(PATH));
    expect(data.equals(FILE)).toBe(true);
    expect(ranges[1]).toBe('bytes=400000-');
  });

  it('gives up after the allowed resumes with a transient ProviderError', async () => {
    const url = await serve((req, res) => {
      const start = sendRange(req, res);
      res.write(FILE.subarray(start, start + 1000), () => res.destroy());
    });
    const client = new AitkUiClient({ baseUrl: url, downloadMaxResumes: 2 });
    const err = await collect(await client.downloadFile(PATH)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'transient' });
    expect(ranges).toHaveLength(3);
  });

  it('throws at once for a missing file (404 is fatal)', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('File not found');
    });
    const client = new AitkUiClient({ baseUrl: url });
    await expect(client.downloadFile(PATH)).rejects.toMatchObject({ kind: 'fatal', httpStatus: 404 });
  });
});
