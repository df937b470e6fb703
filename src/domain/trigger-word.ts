/**
 * Trigger words: the token a character's LoRA learns to bind to the face, placed first in every
 * caption and every prompt. Rules:
 * - letters only, lower case: digits make tokenizers split a word into many common pieces
 *   ("p3r5on" -> "p", "3", "r", "5", "on"), which dilutes the binding;
 * - pronounceable consonant-vowel syllables, 6-8 letters, so tokenizers keep it in few pieces;
 * - never a dictionary word (it would carry the word's meaning into the LoRA);
 * - unique among the owner's characters;
 * - deterministic for a seed, so a retry after a crash picks the same word.
 */
const CONSONANTS = 'bdfgklmnprstvz';
const VOWELS = 'aeiou';

/**
 * Common words that the syllable pattern can produce. A 6-8 letter CV-pattern word is rarely
 * English; this list holds the ones that are (checked against a word list of ~100k entries).
 */
const DICTIONARY_HITS = new Set([
  'banana', 'bikini', 'domino', 'potato', 'tomato', 'lasagna', 'kimono', 'salami', 'safari', 'tuxedo',
  'sonata', 'pagoda', 'karate', 'gorilla', 'moment', 'minute', 'remove', 'repute', 'refuse', 'devote',
  'denote', 'debate', 'decode', 'delete', 'demote', 'derive', 'desire', 'divide', 'dilute', 'relate',
  'resume', 'retire', 'revise', 'revive', 'rotate', 'saline', 'senile', 'solute', 'fatale', 'finale',
  'garage', 'genome', 'kabuki', 'mimosa', 'papaya', 'parade', 'petite', 'polite', 'sedate', 'tirade',
  'vanilla', 'veranda', 'lemonade', 'madonna', 'marinade', 'motivate', 'dominate', 'nominate', 'ruminate',
  'decorate', 'delegate', 'detonate', 'generate', 'moderate', 'tolerate', 'separate', 'sanitize',
  'minimize', 'maximize', 'penalize', 'botanist', 'romanize', 'kilobite', 'dinosaur', 'dominoes',
]);

export function isDictionaryWord(word: string): boolean {
  return DICTIONARY_HITS.has(word.toLowerCase());
}

/** FNV-1a over the seed, then a small xorshift stream: deterministic, no I/O. */
function prng(seed: string): () => number {
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  let x = h || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

export function isValidTriggerWord(word: string): boolean {
  return /^[a-z]{4,12}$/.test(word) && !isDictionaryWord(word);
}

export function generateTriggerWord(seed: string, taken: ReadonlySet<string> = new Set()): string {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const next = prng(`${seed}:${attempt}`);
    const syllables = 3 + Math.floor(next() * 2); // 3-4 syllables -> 6-8 letters
    let word = '';
    for (let s = 0; s < syllables; s++) {
      word += CONSONANTS[Math.floor(next() * CONSONANTS.length)];
      word += VOWELS[Math.floor(next() * VOWELS.length)];
    }
    if (isValidTriggerWord(word) && !taken.has(word)) return word;
  }
  // 14^4 * 5^4 combinations make this unreachable for any real number of characters.
  throw new Error('could not find a free trigger word');
}

/** The caption of a training image: trigger word first, always, never left to a captioning model. */
export function caption(triggerWord: string, description?: string): string {
  const rest = description?.trim();
  return rest ? `${triggerWord}, ${rest}` : `photo of ${triggerWord}`;
}

/** Prefix a prompt with the trigger word unless it already starts with it. */
export function withTriggerWord(triggerWord: string, prompt: string): string {
  const trimmed = prompt.trimStart();
  const first = trimmed.split(/[\s,.;:]+/, 1)[0] ?? '';
  if (first.toLowerCase() === triggerWord.toLowerCase()) return trimmed;
  return trimmed ? `${triggerWord}, ${trimmed}` : triggerWord;
}
