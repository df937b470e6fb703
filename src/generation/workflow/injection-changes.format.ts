/**
 * Human-readable lines for `likeness workflow inject --explain`: the loaders found, the LoRA nodes
 * added, the rewired inputs, the prompt fields that got the trigger word, and any warning.
 */
import type { Link } from './comfy-workflow.types.js';
import type { InjectionChanges, LoaderChange } from './lora-injection.types.js';

const linkText = (link: Link | null) => (link ? `[${link[0]}, ${link[1]}]` : 'nothing');

function loaderLine(change: LoaderChange): string {
  const what = `${change.nodeId} (${change.classType}${change.modelFile ? `, ${change.modelFile}` : ''})`;
  const role = change.role === 'main' ? '' : ` [${change.role.replace('_', '-')}]`;
  switch (change.action) {
    case 'lora_added':
      return `loader ${what}${role}: adds ${change.loraName}`;
    case 'lora_already_present':
      return `loader ${what}${role}: already applies ${change.loraName}, not added again`;
    case 'skipped_refiner':
      return `loader ${what}${role}: refiner, a different architecture, left without the LoRA`;
    case 'skipped_other_expert':
      return `loader ${what}${role}: no LoRA file for this expert`;
  }
}

export function formatInjectionChanges(changes: InjectionChanges): string[] {
  const lines = changes.loaders.map(loaderLine);
  for (const node of changes.addedNodes) {
    lines.push(
      node.loraName === undefined
        ? `added ${node.nodeId} (${node.classType}) joining the trigger word to the text from ${node.after}`
        : `added ${node.nodeId} (${node.classType}) ${node.loraName} at strength ${node.strength}, after ${node.after}`,
    );
  }
  for (const r of changes.rewired) lines.push(`rewired ${r.nodeId}.${r.input}: ${linkText(r.from)} -> ${linkText(r.to)}`);
  for (const p of changes.prompts) {
    const via = p.forEncoders.length > 0 ? ` (positive prompt of ${p.forEncoders.join(', ')})` : '';
    const action =
      p.action === 'prepended'
        ? 'trigger word prepended'
        : p.action === 'already_starts_with_trigger'
          ? 'already starts with the trigger word'
          : 'trigger word joined before the computed text';
    lines.push(`prompt ${p.nodeId}.${p.field} (${p.classType}): ${action}${via}`);
  }
  for (const w of changes.warnings) lines.push(`warning: ${w}`);
  return lines;
}
