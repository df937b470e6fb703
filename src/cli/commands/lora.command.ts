/**
 * `likeness lora inspect FILE [--json]`: what a LoRA file is (family, part, rank, dtype, tensors,
 * size, metadata), read from its safetensors header only, so it is instant on files of hundreds of
 * MB. A file that is truncated or not a safetensors file exits with code 2 and one sentence.
 */
import type { Command } from 'commander';
import { inspectLoraSource, type LoraInfo } from '../../lora/lora-inspect.js';
import { SafetensorsError } from '../../lora/safetensors.reader.js';

export const LORA_INSPECT_FAILED = 2;

function formatBytes(n: number): string {
  const mib = n / (1024 * 1024);
  return `${n.toLocaleString('en-US')} bytes (${mib >= 1 ? `${mib.toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`})`;
}

export function formatLoraInfo(file: string, info: LoraInfo): string {
  const lines = [
    `file:      ${file}`,
    `size:      ${formatBytes(info.fileSize)}`,
    `family:    ${info.familyLabel} (${info.family})${info.baseModel ? ` -> base model ${info.baseModel}` : ''}`,
    `part:      ${info.part ?? 'undetermined'}`,
    `rank:      ${info.rank ?? 'unknown'}${info.ranks.length > 1 ? ` (mixed: ${info.ranks.join(', ')})` : ''}`,
    `alpha:     ${info.alpha ?? 'none (scale 1.0)'}`,
    `dtype:     ${info.dtypes.join(', ') || 'none'}`,
    `tensors:   ${info.tensorCount} (${info.moduleCount} modules, ${info.keyStyle} keys${info.keyPrefix ? `, prefix ${info.keyPrefix}` : ''})`,
  ];
  if (info.trainingStep !== undefined) lines.push(`step:      ${info.trainingStep}`);
  if (info.combinedExperts) lines.push('warning:   Wan 2.2 experts saved in one file; ComfyUI cannot load it.');
  if (info.brokenModules.length > 0) lines.push(`warning:   incomplete modules, e.g. ${info.brokenModules[0]}`);
  const meta = Object.entries(info.metadata).sort(([a], [b]) => a.localeCompare(b));
  lines.push(`metadata:  ${meta.length === 0 ? 'none' : ''}`.trimEnd());
  for (const [k, v] of meta) lines.push(`  ${k}: ${v.length > 200 ? `${v.slice(0, 197)}...` : v}`);
  return lines.join('\n');
}

export function registerLoraCommands(program: import('commander').Command): void {
  const lora = program.command('lora').description('Work with LoRA files.');
  lora
    .command('inspect')
    .description('Show what a LoRA file is: base-model family, rank, tensors, size, metadata.')
    .argument('<file>', 'a .safetensors file')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { json?: boolean }, command: Command) => {
      let info: LoraInfo;
      try {
        info = await inspectLoraSource(file);
      } catch (err) {
        const message =
          err instanceof SafetensorsError
            ? `${file} is not a usable LoRA file: ${lowerFirst(err.message)}`
            : (err as NodeJS.ErrnoException).code === 'ENOENT'
              ? `${file} does not exist.`
              : `${file} cannot be read: ${(err as Error).message}`;
        command.error(message, { exitCode: LORA_INSPECT_FAILED, code: 'likeness.lora.invalid' });
      }
      process.stdout.write(`${opts.json ? JSON.stringify({ file, ...info }, null, 2) : formatLoraInfo(file, info)}\n`);
    });
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
