/**
 * A local object store whose signed URLs are served over real HTTP by the product's own
 * /v1/storage routes, for backends whose provider uploads straight into storage (RunPod
 * serverless): what S3 presigned URLs are in production.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { storageRoutes } from '../../../src/api/routes/storage.routes.js';
import { AppError } from '../../../src/domain/errors.js';
import type { ServiceContext } from '../../../src/services/context.js';
import { LocalObjectStore } from '../../../src/storage/local.store.js';
import { UrlSigner } from '../../../src/storage/url-signer.js';

export interface SignedStore {
  store: LocalObjectStore;
  url: string;
  close(): Promise<void>;
}

export async function startSignedStore(): Promise<SignedStore> {
  const dir = await mkdtemp(path.join(tmpdir(), 'likeness-signed-store-'));
  let base = '';
  const store = new LocalObjectStore(dir, new UrlSigner('test-signing-secret-0123456789abcdef'), () => base);
  const app = Fastify({ logger: false });
  app.setErrorHandler((err: Error, _req, reply) => reply.status(err instanceof AppError ? err.status : 500).send({ error: err.message }));
  await app.register(storageRoutes, { ctx: { store } as unknown as ServiceContext, signer: new UrlSigner('test-signing-secret-0123456789abcdef') });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    store,
    url: base,
    close: async () => {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
