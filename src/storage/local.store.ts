/**
 * Object store in a local folder. Writes go to a temporary file and are renamed into place, so
 * a crash never leaves a half-written object under its real key. Presigned URLs point at the
 * API's /v1/storage route, signed by UrlSigner.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectStore, StoredObject } from './object-store.js';
import { assertSafeKey } from './object-key.js';
import { hashingMeter } from './hashing-meter.js';
import type { UrlSigner } from './url-signer.js';

export class LocalObjectStore implements ObjectStore {
  readonly kind = 'local' as const;

  constructor(
    private readonly root: string,
    private readonly signer: UrlSigner,
    /** Base URL of the API serving /v1/storage; known only once the server listens. */
    private readonly baseUrl: () => string,
  ) {}

  private file(key: string): string {
    assertSafeKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  async put(key: string, body: Buffer | Readable): Promise<StoredObject> {
    const target = this.file(key);
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${randomUUID()}.part`;
    const meter = hashingMeter();
    try {
      await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, meter.stream, createWriteStream(tmp));
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { key, ...meter.result() };
  }

  async get(key: string): Promise<Readable> {
    const file = this.file(key);
    await stat(file); // throws ENOENT before a stream is handed out
    return createReadStream(file);
  }

  async head(key: string): Promise<{ size: number } | null> {
    try {
      const s = await stat(this.file(key));
      return s.isFile() ? { size: s.size } : null;
    } catch {
      return null;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  async presign(key: string, method: 'GET' | 'PUT', expiresInSeconds: number): Promise<string> {
    assertSafeKey(key);
    const encoded = key.split('/').map(encodeURIComponent).join('/');
    return `${this.baseUrl()}/v1/storage/${encoded}?${this.signer.sign(method, key, expiresInSeconds)}`;
  }
}
