/**
 * Chooses the object store once, at start-up, from configuration (STORAGE=local|s3). The local
 * store needs the URL signer and the API's base URL for its /v1/storage links; an S3 store signs
 * its own URLs and needs neither.
 */
import path from 'node:path';
import type { Config } from '../config/config.js';
import { LocalObjectStore } from './local.store.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore } from './s3.store.js';
import type { UrlSigner } from './url-signer.js';

export interface ObjectStoreDeps {
  signer: UrlSigner;
  /** Base URL of the API serving /v1/storage; read lazily, it is known only once the server listens. */
  baseUrl: () => string;
}

export function createObjectStore(config: Pick<Config, 'dataDir' | 'storage'>, deps: ObjectStoreDeps): ObjectStore {
  const s = config.storage;
  switch (s.kind) {
    case 'local':
      return new LocalObjectStore(path.join(config.dataDir, 'objects'), deps.signer, deps.baseUrl);
    case 's3':
      return new S3ObjectStore({
        endpoint: s.endpoint,
        region: s.region,
        bucket: s.bucket,
        accessKeyId: s.accessKeyId,
        secretAccessKey: s.secretAccessKey,
        forcePathStyle: s.forcePathStyle,
        prefix: s.prefix,
      });
  }
}

/** One line for the start-up banner and /health; never includes credentials. */
export function describeObjectStore(config: Pick<Config, 'dataDir' | 'storage'>): string {
  const s = config.storage;
  if (s.kind === 'local') return `local folder ${path.join(config.dataDir, 'objects')}`;
  return `S3 bucket ${s.bucket}${s.prefix ? `/${s.prefix}` : ''} at ${s.endpoint ?? `AWS ${s.region}`}`;
}
