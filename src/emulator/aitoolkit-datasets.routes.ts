/**
 * AI Toolkit UI dataset and file routes (`ui/src/app/api/datasets/**`, `files/delete`), with the
 * behaviour clients trip over on a fresh install:
 * - POST /api/datasets/create makes the folder with a non-recursive mkdir, so it answers 500 until
 *   the datasets root exists; GET /api/datasets/list creates that root (once called, create works);
 * - create sanitises the name (`lower().replace(/[^a-z0-9]+/g, '_')`); upload does NOT sanitise
 *   `datasetName` (mkdir -p of whatever it is) but rewrites each file name with
 *   `replace(/[^a-zA-Z0-9.-]/g, '_')`, overwriting files of the same name;
 * - POST /api/files/delete is public: the auth middleware exempts every path under /api/files/.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { mkdir, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { field, INVALID_JSON, jsonBody, nextCrash, nextJson, type AitkUiContext } from './aitoolkit-ui.context.js';

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);
const MEDIA_EXTS = ['.png', '.jpg', '.jpeg', '.webp', '.mp4', '.avi', '.mov', '.mkv', '.wmv', '.m4v', '.flv', '.mp3', '.wav', '.flac', '.ogg'];

export function registerDatasetRoutes(app: FastifyInstance, ctx: AitkUiContext): void {
  const datasetsRoot = () => ctx.roots().datasets;

  app.get('/api/datasets/list', async (_request, reply) => {
    try {
      const root = ctx.vfs.toReal(datasetsRoot());
      if (!existsSync(root)) mkdirSync(root);
      const folders = (await readdir(root, { withFileTypes: true }))
        .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
        .map((d) => d.name)
        .sort();
      return nextJson(reply, folders);
    } catch {
      return nextJson(reply, { error: 'Failed to fetch datasets' }, 500);
    }
  });

  app.post('/api/datasets/create', async (request, reply) => {
    try {
      const body = jsonBody(request);
      if (body === INVALID_JSON) throw new SyntaxError('invalid JSON');
      const raw = field(body, 'name');
      if (typeof raw !== 'string') throw new TypeError('name.toLowerCase is not a function');
      const name = raw.toLowerCase().replace(/[^a-z0-9]+/g, '_');
      const real = ctx.vfs.toReal(path.posix.join(datasetsRoot(), name));
      // Non-recursive on purpose: this is the fresh-install 500.
      if (!existsSync(real)) mkdirSync(real);
      return nextJson(reply, { success: true, name });
    } catch {
      return nextJson(reply, { error: 'Failed to create dataset' }, 500);
    }
  });

  app.post('/api/datasets/delete', async (request, reply) => {
    try {
      const body = jsonBody(request);
      if (body === INVALID_JSON) throw new SyntaxError('invalid JSON');
      const name = field(body, 'name');
      if (typeof name !== 'string') throw new TypeError('The "path" argument must be of type string');
      const real = ctx.vfs.toReal(path.posix.join(datasetsRoot(), name));
      if (existsSync(real)) rmSync(real, { recursive: true, force: true });
      return nextJson(reply, { success: true });
    } catch {
      return nextJson(reply, { error: 'Failed to delete dataset' }, 500);
    }
  });

  app.post('/api/datasets/upload', async (request, reply) => {
    try {
      if (!request.isMultipart()) throw new TypeError('Could not parse content as FormData.');
      // formData() holds the whole body before the route runs; collect every part first, since
      // datasetName may come after the files.
      const files: Array<{ name: string; data: Buffer } | { notAFile: true }> = [];
      let datasetName: string | null = null;
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          const data = await part.toBuffer();
          if (part.fieldname === 'files') files.push({ name: part.filename, data });
        } else if (part.fieldname === 'files') {
          files.push({ notAFile: true });
        } else if (part.fieldname === 'datasetName' && datasetName === null) {
          datasetName = String(part.value);
        }
      }
      if (files.length === 0) return nextJson(reply, { error: 'No files provided' }, 400);
      if (datasetName === null) throw new TypeError('The "path" argument must be of type string. Received null');
      const dir = path.posix.join(datasetsRoot(), datasetName);
      await mkdir(ctx.vfs.toReal(dir), { recursive: true });
      const saved: string[] = [];
      for (const f of files) {
        if ('notAFile' in f) throw new TypeError('file.arrayBuffer is not a function');
        const fileName = f.name.replace(/[^a-zA-Z0-9.-]/g, '_');
        await writeFile(ctx.vfs.toReal(path.posix.join(dir, fileName)), f.data);
        saved.push(fileName);
      }
      return nextJson(reply, { message: 'Files uploaded successfully', files: saved });
    } catch {
      return nextJson(reply, { error: 'Error uploading files' }, 500);
    }
  });

  app.post('/api/datasets/listImages', async (request, reply) => {
    const body = jsonBody(request);
    if (body === INVALID_JSON || body === null || typeof (body as Record<string, unknown>).datasetName !== 'string') return nextCrash(reply);
    const datasetName = (body as { datasetName: string }).datasetName;
    const folder = path.posix.join(datasetsRoot(), datasetName);
    const real = ctx.vfs.toReal(folder);
    if (!existsSync(real)) return nextJson(reply, { error: `Folder '${datasetName}' not found` }, 404);
    try {
      const images = (await findMedia(real)).map((p) => path.relative(real, p).split(path.sep).join('/'));
      images.sort((a, b) => a.localeCompare(b));
      const json = JSON.stringify({ root: `${folder}/`, images });
      const accept = String(request.headers['accept-encoding'] ?? '');
      if (/\bbr\b/.test(accept)) return reply.header('content-type', 'application/json').header('content-encoding', 'br').send(await brotli(json));
      if (/\bgzip\b/.test(accept)) return reply.header('content-type', 'application/json').header('content-encoding', 'gzip').send(await gzip(json));
      return reply.header('content-type', 'application/json').send(Buffer.from(json));
    } catch {
      return nextJson(reply, { error: 'Failed to process request' }, 500);
    }
  });

  app.post('/api/files/delete', async (request, reply) => {
    try {
      const body = jsonBody(request);
      if (body === INVALID_JSON) throw new SyntaxError('invalid JSON');
      const filePath = field(body, 'filePath');
      if (!filePath || typeof filePath !== 'string') return reply.code(400).send('filePath is required');
      const resolved = ctx.vfs.resolve(decodeURIComponent(filePath));
      const roots = ctx.roots();
      if (![roots.datasets, roots.training].some((d) => resolved === d || resolved.startsWith(`${d}/`))) {
        return reply.code(403).send('Access denied');
      }
      const real = ctx.vfs.toReal(resolved);
      const st = await stat(real).catch(() => null);
      if (!st) return reply.code(404).send('File not found');
      if (!st.isFile()) return reply.code(400).send('Not a file');
      await unlink(real);
      return nextJson(reply, { success: true });
    } catch {
      return reply.code(500).send('Internal Server Error');
    }
  });
}

async function findMedia(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== '_controls') out.push(...(await findMedia(full)));
    } else if (e.isFile() && MEDIA_EXTS.includes(path.extname(e.name).toLowerCase())) {
      out.push(full);
    }
  }
  return out;
}
