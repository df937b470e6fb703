/**
 * `GET|HEAD /api/files/*` and `/api/img/*`, which AI Toolkit's front server (`ui/cron/fileServer.ts`)
 * answers itself with raw Node streams before anything reaches Next.js. Hence no auth (they are
 * public), plain-text errors (`403 Access denied`, `404 File not found`, `400 Not a file`) and its
 * exact Range handling: `bytes=a-b` and `bytes=a-` give 206, anything unparsable or out of range
 * (including suffix ranges `bytes=-n`, which it does not support) gives 416 with `bytes *\/size`.
 *
 * Paths: the rest of the URL is decoded per segment, so `/api/files/<enc folder>/<enc file>` and the
 * legacy `/api/files/<enc abs path>` both work; the result must lie in the datasets or training
 * root (`/api/img` also allows the data root). Emulated LoRA descriptors are served as the full
 * .safetensors they stand for.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream';
import type { VirtualFs } from './aitoolkit-paths.js';
import { readLoraDescriptor, type LoraRenderer } from './lora-artifact.js';
import { safetensorsStream } from './safetensors.writer.js';
import { writeThumbnail } from './sample-image.writer.js';

export interface FileRoots {
  datasets: string;
  training: string;
  data: string;
}

export interface FileServerContext {
  vfs: VirtualFs;
  /** Virtual, resolved roots from the install's settings. */
  roots(): FileRoots;
  renderer: LoraRenderer;
}

const CONTENT_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.bmp': 'image/bmp',
  '.safetensors': 'application/octet-stream',
  '.zip': 'application/zip',
  '.mp4': 'video/mp4',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.flac': 'audio/flac',
  '.ogg': 'audio/ogg',
};
const THUMB_EXTS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp']);

export const FILE_PREFIXES = ['/api/files/', '/api/img/'] as const;

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status);
  res.end(text);
}

/** True when a request belongs to the front file server rather than to the Next.js routes. */
export function isFileServerRequest(req: IncomingMessage): (typeof FILE_PREFIXES)[number] | undefined {
  if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
  const urlPath = (req.url ?? '').split('?')[0] ?? '';
  return FILE_PREFIXES.find((p) => urlPath.startsWith(p));
}

export async function serveFile(req: IncomingMessage, res: ServerResponse, prefix: string, ctx: FileServerContext): Promise<void> {
  try {
    const isImg = prefix === '/api/img/';
    const url = req.url ?? '';
    const urlPath = url.split('?')[0] ?? '';
    const decoded = urlPath
      .slice(prefix.length)
      .split('/')
      .map((s) => decodeURIComponent(s))
      .join('/');
    let resolved = ctx.vfs.resolve(decoded);
    const roots = ctx.roots();
    const dirs = isImg ? [roots.datasets, roots.training, roots.data] : [roots.datasets, roots.training];
    if (!dirs.some((d) => resolved === d || resolved.startsWith(`${d}/`))) return plain(res, 403, 'Access denied');

    if (isImg && new URL(url, 'http://localhost').searchParams.has('thumb')) {
      const thumb = path.posix.join(path.posix.dirname(resolved), '.thumbs', `${path.posix.basename(resolved)}.jpg`);
      const thumbReal = ctx.vfs.toReal(thumb);
      const have = await stat(thumbReal).then((s) => s.isFile(), () => false);
      if (!have && THUMB_EXTS.has(path.posix.extname(resolved).toLowerCase())) {
        await writeThumbnail(ctx.vfs.toReal(resolved), thumbReal).catch(() => undefined);
      }
      if (await stat(thumbReal).then((s) => s.isFile(), () => false)) resolved = thumb;
    }

    const real = ctx.vfs.toReal(resolved);
    const st = await stat(real).catch(() => null);
    if (!st) return plain(res, 404, 'File not found');
    if (!st.isFile()) return plain(res, 400, 'Not a file');

    const lora = resolved.endsWith('.safetensors') ? await readLoraDescriptor(real) : null;
    const size = lora ? ctx.renderer.sizeOf(lora) : st.size;
    const filename = path.posix.basename(resolved);
    const headers: Record<string, string> = {
      'Content-Type': CONTENT_TYPES[path.posix.extname(resolved).toLowerCase()] ?? 'application/octet-stream',
      'Accept-Ranges': 'bytes',
    };
    if (isImg) {
      const etag = `W/"${st.ino.toString(36)}-${size.toString(36)}-${st.mtimeMs.toString(36)}"`;
      headers['Cache-Control'] = 'public, max-age=86400, immutable';
      headers.ETag = etag;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { ETag: etag, 'Cache-Control': headers['Cache-Control'] });
        res.end();
        return;
      }
    } else {
      headers['Cache-Control'] = 'public, max-age=86400';
      headers['Content-Disposition'] = `attachment; filename="${encodeURIComponent(filename)}"`;
      headers['X-Content-Type-Options'] = 'nosniff';
    }

    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const parts = range.replace(/bytes=/, '').split('-');
      start = parseInt(parts[0] ?? '', 10);
      end = parts[1] ? parseInt(parts[1], 10) : size - 1;
      if (Number.isNaN(start) || Number.isNaN(end) || start > end || start >= size) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` });
        res.end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    // Reproduced quirk: an end past the file is not clamped, so Content-Length promises more than
    // the file holds and the body stops short at EOF (clients must clamp their ranges).
    headers['Content-Length'] = String(end - start + 1);
    if (req.method === 'HEAD') {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const body = lora
      ? await ctx.renderer.render(lora).then((r) => safetensorsStream(r.head, r.data, start, Math.min(end, size - 1)))
      : createReadStream(real, { start, end });
    if (res.destroyed) {
      body.destroy();
      return;
    }
    res.writeHead(status, headers);
    pipeline(body, res, (err) => {
      if (err) res.destroy();
    });
  } catch {
    if (!res.headersSent) res.writeHead(500);
    res.end();
  }
}
