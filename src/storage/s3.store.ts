/**
 * Object store on any S3-compatible service: AWS S3, Cloudflare R2, Bunny Storage (S3 API),
 * MinIO. Providers read and write through presigned URLs; this process streams through the SDK.
 *
 * - put: a Buffer goes up in one PutObject carrying its SHA-256 (`x-amz-checksum-sha256`), so the
 *   store refuses a body damaged on the way. A stream goes up as a multipart upload (lib-storage,
 *   8 MiB parts), each part with its own SHA-256 checksum; the whole object's SHA-256 is computed
 *   here while the bytes pass, since S3 only keeps a checksum of the part checksums for multipart
 *   objects. Either way `put` returns the SHA-256 of exactly the bytes stored.
 * - The SDK's default CRC32 on every upload (`WHEN_SUPPORTED`, SDK >= 3.729) is switched off: many
 *   S3-compatible stores reject or mis-store its aws-chunked trailer encoding, and it would also be
 *   signed into presigned PUT URLs that a provider then cannot satisfy with a plain PUT.
 * - Missing objects: `head` -> null; `get` rejects with an Error whose `code` is 'ENOENT', the same
 *   code LocalObjectStore's file system gives, so callers handle both stores alike. On AWS the
 *   credentials need s3:ListBucket as well: without it S3 answers 403, not 404, for a missing key.
 * - Keys go through assertSafeKey like the local store's, then under the optional prefix.
 *
 * Errors never carry credentials: the SDK's messages have none, and this file adds only the
 * bucket and key.
 */
import { createHash } from 'node:crypto';
import { pipeline, Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { hashingMeter } from './hashing-meter.js';
import type { ObjectStore, StoredObject } from './object-store.js';
import { assertSafeKey, isSafeKey } from './object-key.js';

/** SigV4 presigned URLs cannot live longer than 7 days (AWS, R2 and MinIO all enforce it). */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
const PART_SIZE = 8 * 1024 * 1024;

export interface S3ObjectStoreOptions {
  /** Custom endpoint (R2, Bunny, MinIO); omit for AWS. */
  endpoint?: string;
  /** `auto` on R2 (us-east-1 aliases it), the zone's region code on Bunny. */
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Path-style URLs (`endpoint/bucket/key`): MinIO and Bunny need them; AWS and R2 accept them. */
  forcePathStyle: boolean;
  /** Keys are stored under `<prefix>/`, so one bucket can hold several installations. */
  prefix?: string;
  /**
   * Send SHA-256 checksums with uploads. Default: on, except for Bunny endpoints, whose S3 API
   * (a preview) documents only Content-MD5 validation.
   */
  checksums?: boolean;
  /** Multipart part size in bytes (S3's floor is 5 MiB). Default 8 MiB. */
  partSize?: number;
  /** Parts uploaded at once per stream. Default 4 (R2 advises few concurrent parts per upload). */
  queueSize?: number;
}

/** Bunny's S3 endpoints are `https://<region>-s3.storage.bunnycdn.com`. */
export function defaultChecksums(endpoint: string | undefined): boolean {
  if (!endpoint) return true;
  try {
    return !new URL(endpoint).hostname.endsWith('.bunnycdn.com');
  } catch {
    return true;
  }
}

export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly prefix: string;
  private readonly checksums: boolean;

  constructor(private readonly opts: S3ObjectStoreOptions) {
    if (!opts.bucket) throw new RangeError('S3ObjectStore needs a bucket.');
    this.bucket = opts.bucket;
    this.prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (this.prefix && !isSafeKey(this.prefix)) throw new RangeError(`S3 key prefix ${JSON.stringify(opts.prefix)} is not a safe key path.`);
    this.checksums = opts.checksums ?? defaultChecksums(opts.endpoint);
    const config: S3ClientConfig = {
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    if (opts.endpoint) config.endpoint = opts.endpoint;
    this.client = new S3Client(config);
  }

  /** The key as stored in the bucket. */
  objectKey(key: string): string {
    assertSafeKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async put(key: string, body: Buffer | Readable, contentType?: string): Promise<StoredObject> {
    const Key = this.objectKey(key);
    if (Buffer.isBuffer(body)) {
      const digest = createHash('sha256').update(body).digest();
      await this.call('PUT', key, () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key,
            Body: body,
            ContentLength: body.length,
            ContentType: contentType,
            // Both fields, as the SDK sends them itself: some stores (moto) keep the checksum only
            // when the algorithm header names it.
            ...(this.checksums ? { ChecksumAlgorithm: 'SHA256' as const, ChecksumSHA256: digest.toString('base64') } : {}),
          }),
        ),
      );
      return { key, size: body.length, sha256: digest.toString('hex') };
    }
    return this.putStream(key, Key, body, contentType);
  }

  private async putStream(key: string, Key: string, body: Readable, contentType?: string): Promise<StoredObject> {
    const { stream: meter, result } = hashingMeter();
    // pipeline destroys `meter` with the source's error, which fails the upload (and lib-storage
    // then aborts the multipart upload, so no orphaned parts keep costing storage).
    pipeline(body, meter, () => undefined);
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key,
        Body: meter,
        ContentType: contentType,
        ...(this.checksums ? { ChecksumAlgorithm: 'SHA256' as const } : {}),
      },
      partSize: this.opts.partSize ?? PART_SIZE,
      queueSize: this.opts.queueSize ?? 4,
      leavePartsOnError: false,
    });
    try {
      await this.call('PUT', key, () => upload.done());
    } catch (err) {
      // Frees the caller's source (a file descriptor, a socket) that the failed upload stopped reading.
      body.destroy();
      meter.destroy();
      throw err;
    }
    return { key, ...result() };
  }

  async get(key: string): Promise<Readable> {
    const res = await this.call('GET', key, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) })));
    if (!(res.Body instanceof Readable)) throw new Error(`S3 GET ${this.where(key)} returned no readable body.`);
    return res.Body;
  }

  async head(key: string): Promise<{ size: number } | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { size: res.ContentLength ?? 0 };
    } catch (err) {
      // HEAD has no error body: a missing bucket also reads 404 here. checkBucket() tells them apart.
      if (httpStatus(err) === 404) return null;
      throw wrap(err, 'HEAD', this.where(key));
    }
  }

  async delete(key: string): Promise<void> {
    // S3 answers 204 for a key that does not exist: delete is idempotent, like rm --force.
    await this.call('DELETE', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) })));
  }

  async presign(key: string, method: 'GET' | 'PUT', expiresInSeconds: number): Promise<string> {
    const expiresIn = Math.max(1, Math.floor(expiresInSeconds));
    if (expiresIn > MAX_PRESIGN_SECONDS) {
      throw new RangeError(`Presigned S3 URLs last at most ${MAX_PRESIGN_SECONDS} s (7 days); ${expiresIn} s was asked.`);
    }
    const input = { Bucket: this.bucket, Key: this.objectKey(key) };
    const command = method === 'GET' ? new GetObjectCommand(input) : new PutObjectCommand(input);
    return getSignedUrl(this.client, command, { expiresIn });
  }

  /** Start-up check: the bucket exists and the credentials can reach it. Throws a clear Error otherwise. */
  async checkBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const status = httpStatus(err);
      const why = status === 404 ? 'does not exist' : status === 403 ? 'refuses these credentials' : 'cannot be reached';
      throw wrap(err, 'HEAD', `bucket "${this.bucket}"`, `S3 bucket "${this.bucket}" ${why}`);
    }
  }

  destroy(): void {
    this.client.destroy();
  }

  private where(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  private async call<T>(verb: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (verb === 'GET' && httpStatus(err) === 404) {
        const missing = new Error(`Object ${this.where(key)} was not found.`, { cause: err }) as NodeJS.ErrnoException;
        missing.code = 'ENOENT';
        throw missing;
      }
      throw wrap(err, verb, this.where(key));
    }
  }
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function wrap(err: unknown, verb: string, where: string, lead?: string): Error {
  const name = (err as { name?: string } | null)?.name ?? 'Error';
  const message = err instanceof Error ? err.message : String(err);
  const status = httpStatus(err);
  return new Error(`${lead ?? `S3 ${verb} ${where} failed`}: ${name}${status ? ` (HTTP ${status})` : ''}: ${message}`, { cause: err });
}
