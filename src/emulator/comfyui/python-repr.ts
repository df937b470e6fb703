/**
 * Python's repr() of JSON-like values. ComfyUI and worker-comfyui build error strings with
 * f-strings over Python lists and dicts (`'x.safetensors' not in ['a.safetensors']`,
 * `Node 10 (errors): [{'type': ...}]`), and clients parse those strings, so the emulator writes
 * them the same way.
 */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(value);
  if (typeof value === 'string') return pyStr(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pyStr(k)}: ${pyRepr(v)}`)
    .join(', ')}}`;
}

/** repr(str): single quotes unless the text has a single quote and no double quote. */
function pyStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s
    .replace(/\\/g, '\\\\')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t')
    .split(quote)
    .join(`\\${quote}`);
  return `${quote}${body}${quote}`;
}
