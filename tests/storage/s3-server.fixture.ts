/**
 * A real S3-compatible server for the S3 store's tests (../shared/INFRA.md, "S3-compatible server"):
 * moto_server when it is on PATH (the machine image has it; it stores and returns SHA-256
 * checksums and multipart ETags), else s3rver from npm (no checksums). LIKENESS_TEST_S3=s3rver
 * forces the fallback, to check it still works where moto is missing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

export interface S3TestServer {
  kind: 'moto' | 's3rver';
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The server keeps and returns x-amz-checksum-sha256 (moto does, s3rver does not). */
  storesChecksums: boolean;
  /** Multipart objects get S3's `<md5 of part md5s>-<parts>` ETag (moto does, s3rver does not). */
  multipartEtags: boolean;
  /** A client for checks the store under test does not expose (raw HEAD with checksums, bucket set-up). */
  client: S3Client;
  createBucket(name: string): Promise<void>;
  close(): Promise<void>;
}

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    try {
      await access(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntilAnswering(url: string, child: ChildProcess, output: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`moto_server did not answer at ${url} within ${timeoutMs} ms: ${output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function clientFor(endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

async function startMoto(): Promise<S3TestServer> {
  const port = await freePort();
  // Own process group, so close() ends moto and anything it started, and nothing else.
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (b: Buffer) => {
    log = (log + b.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(`${endpoint}/`, child, () => log);
  } catch (err) {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
    throw err;
  }
  // moto accepts any credentials and checks no signatures.
  const client = clientFor(endpoint, 'test-key', 'test-secret');
  return {
    kind: 'moto',
    endpoint,
    region: 'us-east-1',
    accessKeyId: 'test-key',
    secretAccessKey: 'test-secret',
    storesChecksums: true,
    multipartEtags: true,
    client,
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    close: async () => {
      client.destroy();
      if (child.exitCode !== null || !child.pid) return;
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
    },
  };
}

async function startS3rver(): Promise<S3TestServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'likeness-s3rver-'));
  // s3rver ships no types; a non-literal specifier keeps the type checker out of it.
  const specifier = 's3rver';
  const { default: S3rver } = (await import(specifier)) as {
    default: new (opts: Record<string, unknown>) => { run(): Promise<net.AddressInfo>; close(): Promise<void> };
  };
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  // s3rver checks signatures against its one built-in key pair.
  const client = clientFor(endpoint, 'S3RVER', 'S3RVER');
  return {
    kind: 's3rver',
    endpoint,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    storesChecksums: false,
    multipartEtags: false,
    client,
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    close: async () => {
      client.destroy();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startS3TestServer(): Promise<S3TestServer> {
  if (process.env.LIKENESS_TEST_S3 !== 's3rver' && (await onPath('moto_server'))) return startMoto();
  return startS3rver();
}
