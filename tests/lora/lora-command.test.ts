import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerLoraCommands } from '../../src/cli/commands/lora.command.js';
import { inspectLoraSource, verifyLora } from '../../src/lora/lora-inspect.js';
import { aitkMetadata, fluxLora, wanLora, writeSafetensors } from './helpers/safetensors-test-writer.js';

let dir: string;
let flux: string;
let fluxSize: number;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'likeness-lora-cli-'));
  flux = path.join(dir, 'char_lora.safetensors');
  fluxSize = await writeSafetensors(flux, fluxLora(2), aitkMetadata('char_lora', 'flux.1', 1000));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function run(args: string[]): Promise<{ out: string; err: string; exitCode: number }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  const program = new Command('likeness').exitOverride().configureOutput({
    writeOut: (s) => (out += s),
    writeErr: (s) => (err += s),
  });
  registerLoraCommands(program);
  try {
    await program.parseAsync(['node', 'likeness', ...args]);
    return { out, err, exitCode: 0 };
  } catch (e) {
    if (e instanceof CommanderError) return { out, err, exitCode: e.exitCode };
    throw e;
  }
}

describe('likeness lora inspect', () => {
  it('prints family, rank, tensors, size and metadata', async () => {
    const { out, exitCode } = await run(['lora', 'inspect', flux]);
    expect(exitCode).toBe(0);
    expect(out).toMatch(/family:\s+FLUX\.1 \(flux\) -> base model flux-dev/);
    expect(out).toMatch(/rank:\s+2\b/);
    expect(out).toMatch(/tensors:\s+988 \(494 modules, peft keys, prefix transformer\.\)/);
    expect(out).toContain(`${fluxSize.toLocaleString('en-US')} bytes`);
    expect(out).toMatch(/ss_base_model_version: flux\.1/);
    expect(out).toMatch(/step:\s+1000/);
  });

  it('prints JSON with --json', async () => {
    const { out, exitCode } = await run(['lora', 'inspect', flux, '--json']);
    expect(exitCode).toBe(0);
    const json = JSON.parse(out) as Record<string, unknown>;
    expect(json).toMatchObject({ file: flux, family: 'flux', rank: 2, tensorCount: 988, fileSize: fluxSize, dtype: 'BF16' });
    expect((json.metadata as Record<string, string>).ss_output_name).toBe('char_lora');
  });

  it('exits 2 with one sentence for a truncated file, garbage and a missing file', async () => {
    const cut = path.join(dir, 'cut.safetensors');
    const { readFile } = await import('node:fs/promises');
    await writeFile(cut, (await readFile(flux)).subarray(0, 5000));
    for (const [file, pattern] of [
      [cut, /truncated/],
      [path.join(dir, 'nope.safetensors'), /does not exist/],
    ] as const) {
      const { err, exitCode, out } = await run(['lora', 'inspect', file]);
      expect(exitCode).toBe(2);
      expect(out).toBe('');
      expect(err).toMatch(pattern);
      expect(err.trim().split('\n')).toHaveLength(1);
    }
    const junk = path.join(dir, 'junk.safetensors');
    await writeFile(junk, 'hello, I am not a tensor file at all');
    const junkRun = await run(['lora', 'inspect', junk, '--json']);
    expect(junkRun.exitCode).toBe(2);
    expect(junkRun.err).toMatch(/not a usable LoRA file: header length \d+ is not plausible/);
  });
});

it('rejects a Wan 2.1 1.3B file for the platform’s Wan 2.1 (14B) runs', async () => {
  const small = path.join(dir, 'small.safetensors');
  await writeSafetensors(small, wanLora(2, '1.3b'), aitkMetadata('small', 'wan_2.1'));
  const info = await inspectLoraSource(small);
  expect(verifyLora(info, { baseModel: 'wan21', part: 'main' })).toEqual([
    'This is a Wan 2.1 1.3B LoRA, not one for Wan 2.1.',
  ]);
});
