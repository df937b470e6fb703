/**
 * Prompt text and the character's trigger word. The trigger goes first, separated by ", ", because
 * that is how AI Toolkit writes it into the training captions; a prompt that already starts with it
 * is left alone so repeated injections or builder + injection never double it.
 */

const WORD_CHAR = /[\p{L}\p{N}_]/u;

/** True when the prompt, ignoring leading whitespace, starts with the trigger as a whole word. */
export function startsWithTrigger(prompt: string, triggerWord: string): boolean {
  const text = prompt.trimStart();
  if (!text.startsWith(triggerWord)) return false;
  const next = text.charAt(triggerWord.length);
  return next === '' || !WORD_CHAR.test(next);
}

export function prependTrigger(prompt: string, triggerWord: string): string {
  if (startsWithTrigger(prompt, triggerWord)) return prompt;
  return prompt.trim().length === 0 ? triggerWord : `${triggerWord}, ${prompt}`;
}

/** The separator used when the trigger is joined to text computed upstream at run time. */
export const TRIGGER_DELIMITER = ', ';
