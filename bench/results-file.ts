/**
 * bench/results.json holds every part of the bench. A full run replaces it; a partial run
 * (`--only=<part>`) replaces only its own part's figures and targets, so measuring one part again
 * never drops the others from the file or from the README section rendered from it.
 */
import type { BenchResults, PartName, TaggedTarget } from './readme-section';
import type { Target } from './target';

export const PARTS = ['getflow', 'cold', 'poller', 'load'] as const satisfies readonly PartName[];

/** The results.json keys each part writes. */
export const PART_SECTIONS: Record<PartName, readonly (keyof BenchResults)[]> = {
  getflow: ['getflow'],
  cold: ['coldStart', 'deployed'],
  poller: ['poller', 'pollerMemory'],
  load: ['accountLoad'],
};

export function isPartName(value: string): value is PartName {
  return (PARTS as readonly string[]).includes(value);
}

/** Targets of one run, each tagged with the part that produced it. */
export function tagTargets(
  targets: readonly Target[],
  marks: ReadonlyArray<{ readonly part: PartName; readonly from: number }>,
): TaggedTarget[] {
  return targets.map((target, index) => {
    const mark = marks.findLast((candidate) => candidate.from <= index);
    if (!mark) throw new Error(`target "${target.name}" was pushed before any part ran`);
    return { ...target, part: mark.part };
  });
}

/** `previous` with `part`'s sections and targets taken from `partial`; targets stay in part order. */
export function mergePartialRun(previous: BenchResults, partial: BenchResults, part: PartName): BenchResults {
  const merged: Record<string, unknown> = { ...previous };
  for (const key of PART_SECTIONS[part]) {
    if (partial[key] === undefined) delete merged[key];
    else merged[key] = partial[key];
  }
  const targetsOf = (results: BenchResults, of: PartName) =>
    (results.targets ?? []).filter((target) => target.part === of);
  merged.targets = PARTS.flatMap((each) => targetsOf(each === part ? partial : previous, each));
  merged.partsRun = {
    ...previous.partsRun,
    [part]: { ranAt: partial.ranAt, machine: partial.machine, commit: partial.commit },
  };
  return merged as unknown as BenchResults;
}
