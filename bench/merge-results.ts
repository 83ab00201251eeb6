/**
 * `npm run bench -- --only=cold --update`: one part re-run, written into bench/results.json (and so
 * the README) in place of that part's figures and targets; every other part keeps its figures
 * from the last full run, and the file says when the re-run part was measured.
 */
import { isColdStartTarget } from './cold-start';
import type { Target } from './target';

/** The parts a partial run may update, each with the targets it owns. */
const UPDATABLE: Record<string, { readonly key: string; readonly owns: (target: string) => boolean }> = {
  cold: { key: 'coldStart', owns: isColdStartTarget },
};

export function mergePartialRun(
  published: Record<string, unknown>,
  partial: Record<string, unknown>,
  only: string,
): Record<string, unknown> {
  const part = UPDATABLE[only];
  if (!part) throw new Error(`--update works with --only=${Object.keys(UPDATABLE).join('|')}, not ${only}`);
  const kept = ((published.targets ?? []) as Target[]).filter((target) => !part.owns(target.name));
  return {
    ...published,
    [part.key]: partial[part.key],
    [`${part.key}RanAt`]: partial.ranAt,
    targets: [...kept, ...((partial.targets ?? []) as Target[])],
  };
}
