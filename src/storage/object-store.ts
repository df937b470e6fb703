/**
 * Object storage behind three core verbs (put / get / presign) plus the housekeeping the
 * lifecycle needs. Local folder by default; S3-compatible stores by configuration. Providers read
 * datasets and write LoRA files through presigned URLs, never through the API process.
 */
import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  size: number;
  sha256: string;
}

export interface ObjectStore {
  readonly kind: 'local' | 's3';
  put(key: string, body: Buffer | Readable, contentType?: string): Promise<StoredObject>;
  get(key: string): Promise<Readable>;
  head(key: string): Promise<{ size: number } | null>;
  delete(key: string): Promise<void>;
  presign(key: string, method: 'GET' | 'PUT', expiresInSeconds: number): Promise<string>;
}
