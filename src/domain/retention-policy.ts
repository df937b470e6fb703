/**
 * What storage retention removes, decided purely: LoRA versions beyond the newest `keep` per
 * character and base model (never the active one, whatever its age), and datasets of runs that
 * finished more than `datasetDays` ago. Bounded storage is the point; the active LoRA is what
 * every generation uses, so it is never a candidate.
 */
export interface RetentionSettings {
  /** LoRA versions kept per character and base model (the active one always among the kept). */
  loraVersions: number;
  /** Days after a run finished that its training dataset is kept. */
  datasetDays: number;
}

export interface VersionFact {
  id: string;
  characterId: string;
  baseModel: string;
  version: number;
}

/** Ids of LoRA versions to delete: all but the newest `keep` of each character and base model, minus the active ones. */
export function loraVersionsToDelete(versions: readonly VersionFact[], activeIds: ReadonlySet<string>, keep: number): string[] {
  const groups = new Map<string, VersionFact[]>();
  for (const v of versions) {
    const k = `${v.characterId}\u0000${v.baseModel}`;
    groups.set(k, [...(groups.get(k) ?? []), v]);
  }
  const out: string[] = [];
  for (const group of groups.values()) {
    const newestFirst = [...group].sort((a, b) => b.version - a.version);
    for (const v of newestFirst.slice(Math.max(0, keep))) if (!activeIds.has(v.id)) out.push(v.id);
  }
  return out;
}

export function datasetCutoff(now: Date, datasetDays: number): Date {
  return new Date(now.getTime() - datasetDays * 24 * 3600_000);
}
