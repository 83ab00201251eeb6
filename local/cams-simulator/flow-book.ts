import type { SimFlow } from './types';

interface FlowEntry {
  flow: SimFlow;
  script?: { startedAt: number; steps: ReadonlyArray<{ afterMs: number; status: string }> };
  preview?: { url: string; expiresAt: number };
  previewSerial: number;
}

const DEFAULT_PREVIEW_TTL_MS = 60 * 60 * 1000;

function keyOf(flowId: string, custSpaceId: string | undefined): string {
  return `${custSpaceId ?? ''}\u0000${flowId}`;
}

/** One account's flows, with scripted statuses and expiring preview URLs. */
export class FlowBook {
  readonly #entries = new Map<string, FlowEntry>();

  constructor(flows: readonly SimFlow[] = []) {
    for (const flow of flows) this.set(flow);
  }

  set(flow: SimFlow): void {
    const key = keyOf(flow.flowId, flow.custSpaceId);
    const existing = this.#entries.get(key);
    this.#entries.set(key, { flow, previewSerial: existing?.previewSerial ?? 0 });
  }

  find(flowId: string, custSpaceId: string | undefined): FlowEntry | undefined {
    return this.#entries.get(keyOf(flowId, custSpaceId));
  }

  require(flowId: string, custSpaceId: string | undefined): FlowEntry {
    const entry = this.find(flowId, custSpaceId);
    if (!entry) throw new Error(`simulator has no flow ${flowId}${custSpaceId ? ` in ${custSpaceId}` : ''}`);
    return entry;
  }

  setStatus(flowId: string, status: string, custSpaceId: string | undefined): void {
    const entry = this.require(flowId, custSpaceId);
    entry.flow = { ...entry.flow, status };
    delete entry.script;
  }

  script(
    flowId: string,
    steps: ReadonlyArray<{ afterMs: number; status: string }>,
    custSpaceId: string | undefined,
    now: number,
  ): void {
    const entry = this.require(flowId, custSpaceId);
    entry.script = { startedAt: now, steps: [...steps].sort((a, b) => a.afterMs - b.afterMs) };
  }

  delete(flowId: string, custSpaceId: string | undefined): void {
    this.#entries.delete(keyOf(flowId, custSpaceId));
  }

  statusAt(entry: FlowEntry, now: number): string {
    let status = entry.flow.status;
    if (entry.script) {
      for (const step of entry.script.steps)
        if (now - entry.script.startedAt >= step.afterMs) status = step.status;
    }
    return status;
  }

  previewAt(entry: FlowEntry, now: number): { url: string; expiresAt: number } {
    if (!entry.preview || entry.preview.expiresAt <= now) {
      entry.previewSerial += 1;
      entry.preview = {
        url: `https://business.facebook.com/wa/manage/flows/${entry.flow.flowId}/preview/?token=sim-${entry.previewSerial}`,
        expiresAt: now + (entry.flow.previewUrlTtlMs ?? DEFAULT_PREVIEW_TTL_MS),
      };
    }
    return entry.preview;
  }

  list(custSpaceId: string | undefined, nameFilter: string | undefined): SimFlow[] {
    return [...this.#entries.values()]
      .map((entry) => entry.flow)
      .filter(
        (flow) => flow.custSpaceId === custSpaceId && (!nameFilter || flow.flowName.includes(nameFilter)),
      )
      .sort((a, b) => a.flowId.localeCompare(b.flowId));
  }
}
