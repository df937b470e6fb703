/**
 * Command groups that live beside their parts (identity, LoRA files, workflows). Each module
 * exports a `register...Commands(program)` function.
 */
import type { Command } from 'commander';
import { registerLoraCommands } from './lora.command.js';
import { registerFacesCommands } from './faces.command.js';
import { registerWorkflowCommands } from './workflow.command.js';

export async function registerOptionalCommands(program: Command): Promise<void> {
  registerLoraCommands(program);
  registerFacesCommands(program);
  registerWorkflowCommands(program);
}
