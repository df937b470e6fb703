/**
 * `likeness workflow inject`: output on stdout or --out, --explain on stderr, --json, and the
 * refusal contract (exit 2, one sentence, nothing written).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { type WorkflowCommandIo, registerWorkflowCommands } from '../../src/cli/commands/workflow.command.js';
import { FIXTURE_DIR } from './workflow-test-kit.js';

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  let exitCode = 0;
  const io: WorkflowCommandIo = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    readFile: (p) => readFile(p, 'utf8'),
    writeFile: (p, t) => writeFile(p, t, 'utf8'),
    setExitCode: (code) => {
      exitCode = code;
    },
  };
  const program = new Command('likeness').exitOverride().configureOutput({ writeErr: (t) => err.push(t), writeOut: (t) => out.push(t) });
  registerWorkflowCommands(program, io);
  try {
    await program.parseAsync(['node', 'likeness', 'workflow', 'inject', ...args]);
  } catch (error) {
    exitCode = (error as { exitCode?: number }).exitCode ?? 1;
  }
  return { stdout: out.join(''), stderr: err.join(''), exitCode };
}

const fixture = (name: string) => path.join(FIXTURE_DIR, name);
const base = ['--lora', 'char.safetensors', '--strength', '0.8', '--trigger', 'ohwx'];

describe('likeness workflow inject', () => {
  it('writes the injected workflow to stdout', async () => {
    const r = await run([fixture('comfy-templates-qwen-image.api.json'), ...base]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
    const wf = JSON.parse(r.stdout);
    expect(wf['67']).toMatchObject({ class_type: 'LoraLoaderModelOnly', inputs: { lora_name: 'char.safetensors', strength_model: 0.8 } });
    expect(wf['6'].inputs.text).toMatch(/^ohwx, /);
  });

  it('explains on stderr and writes to --out, keeping stdout empty', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'likeness-wf-'));
    const out = path.join(dir, 'out.json');
    const r = await run([fixture('salad-sdxl-txt2img-with-refiner.api.json'), ...base, '--out', out, '--explain']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('loader 12 (CheckpointLoaderSimple, sd_xl_refiner_1.0.safetensors) [refiner]');
    expect(r.stderr).toContain('prompt 6.text (CLIPTextEncode): trigger word prepended');
    expect(JSON.parse(await readFile(out, 'utf8'))['20'].class_type).toBe('LoraLoader');
  });

  it('takes both Wan 2.2 files and prints {workflow, changes} with --json', async () => {
    const r = await run([
      fixture('comfy-templates-wan22-14b-t2v.api.json'),
      '--lora', 'char_high_noise.safetensors', '--lora', 'char_low_noise.safetensors',
      '--strength', '1', '--trigger', 'ohwx', '--json',
    ]);
    expect(r.exitCode).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(body.changes.loaders.map((l: { nodeId: string; loraName: string }) => `${l.nodeId}:${l.loraName}`)).toEqual([
      '37:char_high_noise.safetensors',
      '56:char_low_noise.safetensors',
    ]);
    expect(body.workflow['6'].inputs.text).toMatch(/^ohwx, /);
  });

  it('refuses with exit 2 and one sentence, writing nothing', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'likeness-wf-'));
    const out = path.join(dir, 'out.json');
    const r = await run([fixture('nunchaku-qwen-image.api.json'), ...base, '--out', out]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Cannot inject the LoRA: no LoRA loader exists for Nunchaku Qwen-Image models.\n');
    expect(existsSync(out)).toBe(false);
  });

  it('refuses as JSON with --json', async () => {
    const r = await run([fixture('nunchaku-qwen-image.api.json'), ...base, '--json']);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr)).toEqual({ error: { code: 'workflow_unsupported', message: 'no LoRA loader exists for Nunchaku Qwen-Image models' } });
  });

  it('exits 1 on unreadable input and on bad flags', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'likeness-wf-'));
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, '{ not json');
    expect((await run([bad, ...base])).exitCode).toBe(1);
    expect((await run([path.join(dir, 'missing.json'), ...base])).exitCode).toBe(1);
    const noStrength = await run([fixture('comfy-templates-qwen-image.api.json'), '--lora', 'a', '--strength', 'x', '--trigger', 'ohwx']);
    expect(noStrength.exitCode).toBe(1);
    expect(noStrength.stdout).toBe('');
  });
});
