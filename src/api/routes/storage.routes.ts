/**
 * The local object store's signed URLs: providers GET datasets and PUT files here the way they
 * would with S3 presigned URLs. Public routes: the signature is the authorisation.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Readable } from 'node:stream';
import { AppError } from '../../domain/errors.js';
import { isSafeKey } from '../../storage/object-key.js';
import type { UrlSigner } from '../../storage/url-signer.js';
import type { RouteDeps } from '../server.js';

export const storageRoutes: FastifyPluginAsync<RouteDeps & { signer: UrlSigner }> = async (app, { ctx, signer }) => {
  // Bodies of signed PUTs are streamed straight to the store, whatever their content type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  const authorise = (method: 'GET' | 'PUT', url: string, query: Record<string, string>) => {
    const raw = url.split('?')[0]!.replace(/^\/v1\/storage\//, '');
    const key = raw.split('/').map(decodeURIComponent).join('/');
    if (!isSafeKey(key)) throw new AppError('not_found', 'No such object.');
    const verdict = signer.verify(method, key, query);
    if (verdict === 'expired') throw new AppError('forbidden', 'This signed URL has expired.');
    if (verdict !== 'ok') throw new AppError('forbidden', 'The URL signature is not valid for this object and method.');
    return key;
  };

  app.get('/v1/storage/*', { config: { auth: 'public' }, schema: { hide: true } }, async (req, reply) => {
    const key = authorise('GET', req.url, req.query as Record<string, string>);
    const head = await ctx.store.head(key);
    if (!head) throw new AppError('not_found', 'No such object.');
    reply.header('content-length', head.size);
    reply.type(key.endsWith('.safetensors') ? 'application/octet-stream' : guessType(key));
    return reply.send(await ctx.store.get(key));
  });

  app.put('/v1/storage/*', { config: { auth: 'public' }, bodyLimit: 4 * 1024 ** 3, schema: { hide: true } }, async (req, reply) => {
    const key = authorise('PUT', req.url, req.query as Record<string, string>);
    const stored = await ctx.store.put(key, req.body as Readable);
    return reply.status(200).send({ key: stored.key, size: stored.size, sha256: stored.sha256 });
  });
};

function guessType(key: string): string {
  const ext = key.split('.').pop()?.toLowerCase();
  return ext === 'jpg' || ext === 'jpeg' ? 'image/jpeg' : ext === 'png' ? 'image/png' : ext === 'webp' ? 'image/webp' : ext === 'txt' ? 'text/plain' : 'application/octet-stream';
}
