/**
 * Writes .safetensors files without holding them: the layout (header + offsets) is computed from a
 * tensor list, and the tensor bytes come from a deterministic generator that can start at any
 * offset, so an 85-300 MB LoRA can be served with exact Content-Length and Range answers from a
 * few hundred bytes of description.
 *
 * Layout as huggingface/safetensors `prepare()` writes it: u64 little-endian header length, compact
 * JSON header (`__metadata__` first, then tensors in data order, each `{dtype, shape,
 * data_offsets}`), padded with spaces to a multiple of 8, then the raw little-endian tensor data.
 * Tensors are ordered by dtype alignment, then name; all tensors here share one dtype, so by name.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

export type SafetensorsDtype = 'BF16' | 'F16' | 'F32' | 'F8_E4M3';

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = { BF16: 2, F16: 2, F32: 4, F8_E4M3: 1 };

export interface TensorInput {
  name: string;
  shape: number[];
}

export interface SafetensorsLayout {
  dtype: SafetensorsDtype;
  /** The 8-byte length prefix followed by the padded JSON header. */
  head: Buffer;
  dataLength: number;
  totalLength: number;
  tensors: Array<{ name: string; shape: number[]; begin: number; end: number }>;
}

/** Lays out tensors of one dtype; `metadata` of undefined writes no `__metadata__` entry. */
export function planSafetensors(tensors: TensorInput[], dtype: SafetensorsDtype, metadata?: Record<string, string>): SafetensorsLayout {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const laid: SafetensorsLayout['tensors'] = [];
  let offset = 0;
  for (const t of sorted) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    laid.push({ name: t.name, shape: t.shape, begin: offset, end: offset + bytes });
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const pad = (8 - (Buffer.byteLength(json) % 8)) % 8;
  json += ' '.repeat(pad);
  const jsonBytes = Buffer.from(json, 'utf8');
  const head = Buffer.alloc(8 + jsonBytes.length);
  head.writeBigUInt64LE(BigInt(jsonBytes.length), 0);
  jsonBytes.copy(head, 8);
  return { dtype, head, dataLength: offset, totalLength: head.length + offset, tensors: laid };
}

/** Length of the head for given tensors and metadata, without building the data. */
export function headLength(tensors: TensorInput[], dtype: SafetensorsDtype, metadata?: Record<string, string>): number {
  return planSafetensors(tensors, dtype, metadata).head.length;
}

function mix32(seed: number, index: number): number {
  let h = Math.imul(index >>> 0, 0x9e3779b1) ^ seed;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Deterministic tensor data: element i of a file with `seed` is a small random float (|x| in
 * [2^-12, 2^-5), roughly what trained LoRA weights look like), never NaN or Inf, never all zeros.
 * Typed arrays are little-endian on every platform Node supports, as safetensors requires.
 */
export class PatternData {
  private readonly size: number;

  constructor(
    readonly seed: number,
    readonly dtype: SafetensorsDtype,
    readonly length: number,
  ) {
    this.size = DTYPE_BYTES[dtype];
  }

  private elements(first: number, count: number): Uint8Array {
    const seed = this.seed;
    switch (this.dtype) {
      case 'BF16':
      case 'F16': {
        const out = new Uint16Array(count);
        const bf = this.dtype === 'BF16';
        for (let i = 0; i < count; i++) {
          const h = mix32(seed, first + i);
          const sign = (h & 1) << 15;
          out[i] = bf ? sign | ((115 + ((h >>> 1) & 7)) << 7) | ((h >>> 4) & 0x7f) : sign | ((3 + ((h >>> 1) & 7)) << 10) | ((h >>> 4) & 0x3ff);
        }
        return new Uint8Array(out.buffer);
      }
      case 'F32': {
        const out = new Uint32Array(count);
        for (let i = 0; i < count; i++) {
          const h = mix32(seed, first + i);
          out[i] = (((h & 1) << 31) | ((115 + ((h >>> 1) & 7)) << 23) | ((h >>> 4) & 0x7fffff)) >>> 0;
        }
        return new Uint8Array(out.buffer);
      }
      case 'F8_E4M3': {
        const out = new Uint8Array(count);
        for (let i = 0; i < count; i++) {
          const h = mix32(seed, first + i);
          out[i] = ((h & 1) << 7) | ((1 + ((h >>> 1) & 3)) << 3) | ((h >>> 3) & 7);
        }
        return out;
      }
    }
  }

  /** Bytes [offset, offset + length) of the data section. */
  read(offset: number, length: number): Buffer {
    const end = Math.min(this.length, offset + length);
    if (end <= offset) return Buffer.alloc(0);
    const first = Math.floor(offset / this.size);
    const last = Math.ceil(end / this.size);
    const bytes = this.elements(first, last - first);
    const skip = offset - first * this.size;
    return Buffer.from(bytes.buffer, bytes.byteOffset + skip, end - offset);
  }
}

const CHUNK = 1024 * 1024;

/** Streams bytes [start, end] (inclusive) of the file made of `head` followed by `data`. */
export function safetensorsStream(head: Buffer, data: PatternData, start: number, end: number): Readable {
  let pos = start;
  return new Readable({
    read() {
      if (pos > end) {
        this.push(null);
        return;
      }
      const stop = Math.min(end + 1, pos + CHUNK);
      let chunk: Buffer;
      if (pos < head.length) {
        chunk = head.subarray(pos, Math.min(stop, head.length));
      } else {
        chunk = data.read(pos - head.length, stop - pos);
      }
      pos += chunk.length;
      this.push(chunk);
    },
  });
}

/** sha256 of data sections, in order, yielding to the event loop between chunks. */
export async function sha256OfData(parts: PatternData[]): Promise<string> {
  const hash = createHash('sha256');
  for (const part of parts) {
    for (let off = 0; off < part.length; off += 8 * CHUNK) {
      hash.update(part.read(off, 8 * CHUNK));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return hash.digest('hex');
}

/** First 64 KiB at byte 0x100000 of a file, hashed: AITK's `sshs_legacy_hash` (addnet_hash_legacy). */
export function legacyHash(headLen: number, data: PatternData[]): string {
  const start = 0x100000;
  const want = 0x10000;
  const chunks: Buffer[] = [];
  let filePos = headLen;
  for (const part of data) {
    const partStart = filePos;
    const partEnd = filePos + part.length;
    const from = Math.max(start, partStart);
    const to = Math.min(start + want, partEnd);
    if (to > from) chunks.push(part.read(from - partStart, to - from));
    filePos = partEnd;
  }
  return createHash('sha256').update(Buffer.concat(chunks)).digest('hex').slice(0, 8);
}
