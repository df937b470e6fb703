/**
 * Reads the header of a safetensors file without loading its tensors: 8 bytes little-endian header
 * length N, then N bytes of JSON ({name: {dtype, shape, data_offsets:[begin,end]}, __metadata__?}),
 * then the data section. Works on a Buffer (the whole file, or a prefix plus the real size), a file
 * path (reads only the header, stats the size) or a stream (keeps the header, counts the rest), so
 * LoRA files of hundreds of MB cost a few hundred KB of memory.
 *
 * Validation follows huggingface/safetensors (`validate_offsets`): tensors sorted by offset must
 * tile the data section exactly from 0, each exactly `elements x dtype size` long, and the file
 * must end where the last tensor ends. A file shorter than that is `truncated` (an interrupted
 * download); anything else wrong is `invalid`. Scalar tensors (kohya's `.alpha`) are small enough
 * to read their values along the way.
 */
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** The format's own cap on the header (safetensors MAX_HEADER_SIZE). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bits per element; sub-byte types are packed (F4 = 2 per byte, F6 = 4 per 3 bytes). */
const DTYPE_BITS: Record<string, number> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E4M3: 8,
  F8_E5M2: 8,
  F8_E8M0: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  I64: 64,
  U64: 64,
  F64: 64,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
};

export type SafetensorsErrorCode = 'truncated' | 'invalid';

export class SafetensorsError extends Error {
  constructor(
    readonly code: SafetensorsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte offsets relative to the start of the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** N: the JSON header's length in bytes. */
  headerLength: number;
  /** 8 + N: where the data section starts in the file. */
  dataOffset: number;
  fileSize: number;
  metadata: Record<string, string>;
  /** In data order (by begin offset). */
  tensors: SafetensorsTensor[];
  /** Values of float tensors with at most one element (e.g. `.alpha`), when the bytes were seen. */
  scalars: Record<string, number>;
}

export function tensorByteLength(dtype: string, shape: number[]): number {
  const bits = DTYPE_BITS[dtype];
  if (bits === undefined) throw new SafetensorsError('invalid', `Unknown tensor dtype "${dtype}".`);
  const elements = shape.reduce((a, b) => a * b, 1);
  return Math.ceil((elements * bits) / 8);
}

interface DecodedHeader {
  headerLength: number;
  metadata: Record<string, string>;
  tensors: SafetensorsTensor[];
  dataSize: number;
}

function readHeaderLength(prefix: Uint8Array, knownSize?: number): number {
  if (prefix.length < 8) {
    throw new SafetensorsError('truncated', `The file is ${knownSize ?? prefix.length} bytes, too short for a safetensors header.`);
  }
  const n = Buffer.from(prefix.buffer, prefix.byteOffset, 8).readBigUInt64LE(0);
  if (n === 0n || n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError('invalid', `Header length ${n} is not plausible: this is not a safetensors file.`);
  }
  return Number(n);
}

function decodeHeader(headerBytes: Uint8Array, headerLength: number): DecodedHeader {
  let json: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
    if (!text.trimStart().startsWith('{')) throw new Error('not an object');
    json = JSON.parse(text);
  } catch {
    throw new SafetensorsError('invalid', 'The safetensors header is not valid JSON.');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    throw new SafetensorsError('invalid', 'The safetensors header is not a JSON object.');
  }
  const metadata: Record<string, string> = {};
  const tensors: SafetensorsTensor[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!value || typeof value !== 'object' || Array.isArray(value)) {
        throw new SafetensorsError('invalid', 'The safetensors __metadata__ is not an object of strings.');
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new SafetensorsError('invalid', `Metadata "${k}" is not a string.`);
        metadata[k] = v;
      }
      continue;
    }
    const t = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    const offsets = t?.data_offsets;
    if (
      !t ||
      typeof t.dtype !== 'string' ||
      !Array.isArray(t.shape) ||
      !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) ||
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      throw new SafetensorsError('invalid', `Tensor "${name}" has a malformed entry in the header.`);
    }
    tensors.push({ name, dtype: t.dtype, shape: t.shape as number[], begin: offsets[0], end: offsets[1] });
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const t of tensors) {
    if (t.begin !== expected || t.end < t.begin) {
      throw new SafetensorsError('invalid', `Tensor "${t.name}" has offsets that overlap or leave a gap.`);
    }
    if (t.end - t.begin !== tensorByteLength(t.dtype, t.shape)) {
      throw new SafetensorsError('invalid', `Tensor "${t.name}" has ${t.end - t.begin} bytes, its shape needs ${tensorByteLength(t.dtype, t.shape)}.`);
    }
    expected = t.end;
  }
  return { headerLength, metadata, tensors, dataSize: expected };
}

function checkSize(h: DecodedHeader, fileSize: number): void {
  const needed = 8 + h.headerLength + h.dataSize;
  if (fileSize < needed) {
    throw new SafetensorsError('truncated', `The file is truncated: ${fileSize} bytes of the ${needed} its header describes.`);
  }
  if (fileSize > needed) {
    throw new SafetensorsError('invalid', `The file has ${fileSize - needed} bytes after the last tensor.`);
  }
}

function toHeader(h: DecodedHeader, fileSize: number, scalars: Record<string, number>): SafetensorsHeader {
  return {
    headerLength: h.headerLength,
    dataOffset: 8 + h.headerLength,
    fileSize,
    metadata: h.metadata,
    tensors: h.tensors,
    scalars,
  };
}

/** Float tensors of at most one element: the only data worth reading while parsing a header. */
function scalarTensors(tensors: SafetensorsTensor[]): SafetensorsTensor[] {
  return tensors.filter(
    (t) => ['F16', 'BF16', 'F32', 'F64'].includes(t.dtype) && t.shape.reduce((a, b) => a * b, 1) === 1,
  );
}

export function decodeScalar(dtype: string, bytes: Uint8Array): number {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      return b.readFloatLE(0);
    case 'F64':
      return b.readDoubleLE(0);
    case 'BF16': {
      const wide = Buffer.alloc(4);
      wide.writeUInt16LE(b.readUInt16LE(0), 2);
      return wide.readFloatLE(0);
    }
    case 'F16': {
      const h = b.readUInt16LE(0);
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const frac = h & 0x3ff;
      if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
      if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
      return sign * 2 ** (exp - 15) * (1 + frac / 1024);
    }
    default:
      throw new SafetensorsError('invalid', `Cannot decode a ${dtype} scalar.`);
  }
}

/**
 * From bytes in memory. `fileSize` defaults to `buf.length` (the buffer is the whole file); pass the
 * real size when `buf` is only a prefix (it must then hold at least 8 + N bytes).
 */
export function parseSafetensorsHeader(buf: Uint8Array, options: { fileSize?: number } = {}): SafetensorsHeader {
  const fileSize = options.fileSize ?? buf.length;
  const n = readHeaderLength(buf.subarray(0, Math.min(8, fileSize)), fileSize);
  if (fileSize < 8 + n) {
    throw new SafetensorsError('truncated', `The file is truncated inside its ${n}-byte header.`);
  }
  if (buf.length < 8 + n) throw new RangeError(`The buffer holds ${buf.length} bytes; the header needs ${8 + n}.`);
  const decoded = decodeHeader(buf.subarray(8, 8 + n), n);
  checkSize(decoded, fileSize);
  const scalars: Record<string, number> = {};
  for (const t of scalarTensors(decoded.tensors)) {
    const start = 8 + n + t.begin;
    if (buf.length >= start + (t.end - t.begin)) scalars[t.name] = decodeScalar(t.dtype, buf.subarray(start, 8 + n + t.end));
  }
  return toHeader(decoded, fileSize, scalars);
}

/** From a file: reads 8 + N bytes (and any scalar tensors), never the data section. */
export async function readSafetensorsFile(path: string): Promise<SafetensorsHeader> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const lenBuf = Buffer.alloc(Math.min(8, size));
    await fh.read(lenBuf, 0, lenBuf.length, 0);
    const n = readHeaderLength(lenBuf, size);
    if (size < 8 + n) throw new SafetensorsError('truncated', `The file is truncated inside its ${n}-byte header.`);
    const headerBuf = Buffer.alloc(n);
    await fh.read(headerBuf, 0, n, 8);
    const decoded = decodeHeader(headerBuf, n);
    checkSize(decoded, size);
    const scalars: Record<string, number> = {};
    for (const t of scalarTensors(decoded.tensors)) {
      const bytes = Buffer.alloc(t.end - t.begin);
      await fh.read(bytes, 0, bytes.length, 8 + n + t.begin);
      scalars[t.name] = decodeScalar(t.dtype, bytes);
    }
    return toHeader(decoded, size, scalars);
  } finally {
    await fh.close();
  }
}

/**
 * From a stream (an HTTP download, a file stream). The header is kept; the rest is counted, not
 * stored, so the real size is known and a cut-off stream is reported as truncated. With
 * `fileSize` given and `drain: false`, reading stops after the header and the stream is destroyed.
 */
export async function readSafetensorsStream(
  source: Readable | AsyncIterable<Uint8Array>,
  options: { fileSize?: number; drain?: boolean } = {},
): Promise<SafetensorsHeader> {
  const drain = options.drain ?? options.fileSize === undefined;
  if (!drain && options.fileSize === undefined) throw new RangeError('drain: false needs fileSize.');
  const chunks: Buffer[] = [];
  let have = 0;
  let total = 0;
  let n: number | undefined;
  let decoded: DecodedHeader | undefined;
  let wanted: SafetensorsTensor[] = [];
  const scalarBytes = new Map<string, Buffer>();
  const iterator = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();

  try {
    for (;;) {
      const { value, done } = await iterator.next();
      if (done) break;
      const chunk = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      const chunkStart = total;
      total += chunk.length;
      if (!decoded) {
        chunks.push(chunk);
        have += chunk.length;
        if (n === undefined && have >= 8) n = readHeaderLength(Buffer.concat(chunks, have).subarray(0, 8));
        if (n !== undefined && have >= 8 + n) {
          const all = Buffer.concat(chunks, have);
          chunks.length = 0;
          decoded = decodeHeader(all.subarray(8, 8 + n), n);
          wanted = scalarTensors(decoded.tensors);
          capture(all.subarray(8 + n), 8 + n);
          if (!drain) break;
        }
      } else {
        capture(chunk, chunkStart);
      }
    }
  } finally {
    if (!drain || !decoded) await iterator.return?.();
    if ('destroy' in source && typeof source.destroy === 'function' && !drain) source.destroy();
  }

  const fileSize = drain ? total : options.fileSize!;
  if (!decoded) {
    if (n === undefined) readHeaderLength(Buffer.concat(chunks, have), fileSize);
    throw new SafetensorsError('truncated', `The file is truncated inside its ${n}-byte header.`);
  }
  checkSize(decoded, fileSize);
  const scalars: Record<string, number> = {};
  for (const t of wanted) {
    const bytes = scalarBytes.get(t.name);
    if (bytes && bytes.length === t.end - t.begin) scalars[t.name] = decodeScalar(t.dtype, bytes);
  }
  return toHeader(decoded, fileSize, scalars);

  // Copies the bytes of wanted scalar tensors that fall inside this chunk (file offset `at`).
  function capture(chunk: Buffer, at: number): void {
    if (!decoded || wanted.length === 0) return;
    const dataStart = 8 + decoded.headerLength;
    for (const t of wanted) {
      const from = dataStart + t.begin;
      const to = dataStart + t.end;
      const lo = Math.max(from, at);
      const hi = Math.min(to, at + chunk.length);
      if (lo >= hi) continue;
      const prev = scalarBytes.get(t.name) ?? Buffer.alloc(0);
      scalarBytes.set(t.name, Buffer.concat([prev, chunk.subarray(lo - at, hi - at)]));
    }
  }
}

/** One entry point for the three sources. */
export function readSafetensorsHeader(
  source: Uint8Array | string | Readable | AsyncIterable<Uint8Array>,
  options: { fileSize?: number } = {},
): Promise<SafetensorsHeader> {
  if (typeof source === 'string') return readSafetensorsFile(source);
  if (source instanceof Uint8Array) return Promise.resolve().then(() => parseSafetensorsHeader(source, options));
  return readSafetensorsStream(source, options);
}
