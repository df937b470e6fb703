/**
 * The `likeness` command line. This is the entry point: the only place that reads process.env.
 */
import { Command, CommanderError } from 'commander';
import { registerServerCommands } from './commands/server.command.js';
import { registerTrainingCommands } from './commands/training.command.js';
import { registerOptionalCommands } from './commands/optional-commands.js';
import { registerMetricsCommands, registerRetentionCommand } from './commands/metrics.command.js';

const program = new Command('likeness')
  .description('Likeness: a LoRA per character, trained, applied and verified automatically.')
  .showHelpAfterError()
  .exitOverride();

registerServerCommands(program, process.env);
registerTrainingCommands(program, process.env);
registerMetricsCommands(program, process.env);
registerRetentionCommand(program, process.env);
await registerOptionalCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  console.error((err as Error).message);
  process.exit(1);
}
