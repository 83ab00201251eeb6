import type { LogEntry } from './run';

const MAX_SAMPLE_IDS = 10;

/**
 * Failures of one kind within a run (500 flows refused with Ram.PermissionDeny, one receiver
 * down for every event) are one log line with a count, not one line each: a log flooded with
 * copies hides the one line that differs. Lines are written when the run ends, which it does
 * before its deadline.
 */
export class RepeatedLog {
  readonly #groups = new Map<string, { entry: LogEntry; count: number; flowIds: string[] }>();

  /** `identity` names what makes two failures the same (message and code, say). */
  note(identity: string, entry: LogEntry): void {
    const group = this.#groups.get(identity);
    const flowId = typeof entry.flowId === 'string' ? entry.flowId : undefined;
    if (!group) {
      this.#groups.set(identity, { entry, count: 1, flowIds: flowId ? [flowId] : [] });
      return;
    }
    group.count += 1;
    if (flowId && group.flowIds.length < MAX_SAMPLE_IDS && !group.flowIds.includes(flowId)) {
      group.flowIds.push(flowId);
    }
  }

  flush(log: (entry: LogEntry) => void): void {
    for (const { entry, count, flowIds } of this.#groups.values()) {
      log(count === 1 ? entry : { ...entry, count, ...(flowIds.length > 1 ? { flowIds } : {}) });
    }
    this.#groups.clear();
  }
}
