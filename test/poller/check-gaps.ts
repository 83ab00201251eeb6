import type { SimCall } from '../../local/cams-simulator';

/** Times of each flow's answered GetFlow calls (HTTP 200), by flow id, from the simulator's log. */
export function answeredAt(calls: readonly SimCall[]): Map<string, number[]> {
  const answered = new Map<string, number[]>();
  for (const call of calls) {
    if (call.action !== 'GetFlow' || call.httpStatus !== 200 || !call.flowId) continue;
    answered.set(call.flowId, [...(answered.get(call.flowId) ?? []), call.at]);
  }
  return answered;
}

/**
 * The longest a flow went without an answered check, over the gaps that end in (from, to]: what a
 * change in that window could wait to be seen. A gap starts at the last answer at or before
 * `from` (or at `from`), and `to` ends the last one.
 */
export function worstGapMs(times: readonly number[], from: number, to: number): number {
  const before = times.filter((at) => at <= from);
  const within = [before.at(-1) ?? from, ...times.filter((at) => at > from && at < to), to];
  let worst = 0;
  for (let index = 1; index < within.length; index += 1) {
    worst = Math.max(worst, (within[index] ?? 0) - (within[index - 1] ?? 0));
  }
  return worst;
}
