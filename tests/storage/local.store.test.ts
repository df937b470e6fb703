/**
 * The ObjectStore contract against the local folder store, with its signed URLs served by the
 * real /v1/storage routes (what providers reach in a default install). The signer's own rules
 * (tampering, expiry) are tested in tests/unit/config-signer.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { storageRoutes } from '../../src/api/routes/storage.routes.js';
import type { ServiceContext } from '../../src/services/context.js';
import { LocalObjectStore } from '../../src/storage/local.store.js';
import { UrlSigner } from '../../src/storage/url-signer.js';
import { objectStoreContract } from './object-store.contract.js';

objectStoreContract('local folder', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'likeness-local-store-'));
  const signer = new UrlSigner('s'.repeat(40));
  let baseUrl = '';
  const store = new LocalObjectStore(path.join(root, 'objects'), signer, () => baseUrl);
  const app = Fastify();
  // The storage routes use only ctx.store; the rest of the service context is not needed here.
  await app.register(storageRoutes, { ctx: { store } as unknown as ServiceContext, signer });
  await app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    store,
    close: async () => {
      await app.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});
