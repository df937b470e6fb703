/**
 * `likeness workflow inject FILE --lora NAME --strength S --trigger WORD [--out FILE] [--json] [--explain]`
 *
 * Reads a ComfyUI API-format workflow, puts the character's LoRA in it and writes the result to
 * stdout (or --out). When it cannot be done correctly it writes nothing, prints one sentence and
 * exits 2. --explain prints the changes on stderr, so stdout stays pipeable JSON. --json prints
 * {workflow, changes} (or, on refusal, {error:{code,message}} on stderr) for scripts.
 * Exit codes: 0 done, 1 bad usage or unreadable input, 2 refused.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import { injectOptionsFromNames, loraStrengthSchema, triggerWordSchema } from '../../generation/workflow/inject.schema.js';
import { formatInjectionChanges } from '../../generation/workflow/injection-changes.format.js';
import { injectLora } from '../../generation/workflow/lora-injection.service.js';

export interface WorkflowCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readFile: (path: string) => Promise<string>;
  writeFile: (path: string, text: string) => Promise<void>;
  setExitCode: (code: number) => void;
}

const defaultIo: WorkflowCommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readFile: (path) => readFile(path, 'utf8'),
  writeFile: (path, text) => writeFile(path, text, 'utf8'),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

interface InjectFlags {
  lora: string[];
  strength: number;
  trigger: string;
  out?: string;
  json?: boolean;
  explain?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function parseStrength(value: string): number {
  const parsed = loraStrengthSchema.safeParse(Number(value));
  if (value.trim() === '' || !parsed.success) throw new InvalidArgumentError('a number between -10 and 10 is expected.');
  return parsed.data;
}

function parseTrigger(value: string): string {
  if (!triggerWordSchema.safeParse(value).success) {
    throw new InvalidArgumentError('a non-empty word without surrounding spaces is expected.');
  }
  return value;
}

export function registerWorkflowCommands(program: Command, io: WorkflowCommandIo = defaultIo): void {
  const workflow = program.command('workflow').description('ComfyUI workflows: put a character LoRA into your own graphs');
  workflow
    .command('inject')
    .description('add a LoRA (and its trigger word) to an API-format ComfyUI workflow')
    .argument('<file>', 'API-format workflow JSON ("Export (API)" in ComfyUI)')
    .requiredOption('--lora <name>', 'LoRA file name in ComfyUI\'s loras folder; repeat for Wan 2.2 (_high_noise / _low_noise)', collect)
    .requiredOption('--strength <s>', 'LoRA strength', parseStrength)
    .requiredOption('--trigger <word>', 'trigger word put at the start of every positive prompt', parseTrigger)
    .option('--out <file>', 'write the workflow here instead of stdout')
    .option('--json', 'print {workflow, changes} instead of the workflow alone')
    .option('--explain', 'print the loaders found, nodes added, inputs rewired and prompts edited (stderr)')
    .action(async (file: string, flags: InjectFlags) => runInject(io, file, flags));
}

async function runInject(io: WorkflowCommandIo, file: string, flags: InjectFlags): Promise<void> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await io.readFile(file));
  } catch (error) {
    const reason = error instanceof SyntaxError ? 'it is not valid JSON' : (error as Error).message;
    io.stderr(`Cannot read ${file}: ${reason}\n`);
    io.setExitCode(1);
    return;
  }

  const result = injectLora(parsed, injectOptionsFromNames(flags.lora, flags.strength, flags.trigger));
  if (!result.ok) {
    io.stderr(
      flags.json
        ? `${JSON.stringify({ error: { code: result.code, message: result.message } })}\n`
        : `Cannot inject the LoRA: ${result.message}.\n`,
    );
    io.setExitCode(2);
    return;
  }

  if (flags.explain) io.stderr(`${formatInjectionChanges(result.changes).join('\n')}\n`);
  const body = flags.json ? { workflow: result.workflow, changes: result.changes } : result.workflow;
  const text = `${JSON.stringify(body, null, 2)}\n`;
  if (flags.out) await io.writeFile(flags.out, text);
  else io.stdout(text);
}
