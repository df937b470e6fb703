/**
 * Reads a PNG's tEXt chunks (ComfyUI writes `prompt` and `workflow` there; the GPU emulator adds
 * `likeness_emulated`). Only tEXt is read: it is what both write, and it needs no inflating.
 */
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function pngTextChunks(bytes: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  if (bytes.length < 8 || !bytes.subarray(0, 8).equals(SIGNATURE)) return out;
  let offset = 8;
  while (offset + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const dataStart = offset + 8;
    if (dataStart + length > bytes.length) break;
    if (type === 'tEXt') {
      const data = bytes.subarray(dataStart, dataStart + length);
      const zero = data.indexOf(0);
      if (zero > 0) out[data.toString('latin1', 0, zero)] = data.toString('latin1', zero + 1);
    }
    if (type === 'IDAT' || type === 'IEND') break; // text chunks that matter come before the pixels
    offset = dataStart + length + 4;
  }
  return out;
}

/** True for images the GPU emulator made (it marks every output it renders). */
export function isEmulatedImage(bytes: Buffer): boolean {
  return pngTextChunks(bytes).likeness_emulated === 'true';
}
