import type { FlowRecord, OutboxEntry } from './records';

/**
 * The largest flow record the poller writes, as UTF-8 JSON. Tablestore refuses an attribute value
 * above 2 MB (our client refuses it before sending: ValueTooLarge), and a record that grew past it
 * would fail every save of its flow for good: its changes would no longer be recorded nor
 * announced. A quarter of the limit is kept free, so a write that adds a change and its history
 * entry to a record at the bound still fits while the bound is restored.
 */
export const MAX_FLOW_RECORD_BYTES = 1536 * 1024;

/** What `boundFlowRecord` removed; `owedEvents` and `deadLetters` were never delivered. */
export interface RecordTrim {
  readonly history: number;
  readonly reasons: number;
  readonly deadLetters: readonly OutboxEntry[];
  readonly owedEvents: readonly OutboxEntry[];
  /** The record's size after trimming; above the bound only when nothing more could go. */
  readonly bytes: number;
}

const sizeOf = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');

/**
 * Brings `record` (mutated) under `maxBytes`, removing the least useful parts first, oldest first
 * within each: history entries of events no longer owed (a record of the past), dead letters
 * (already given up on and logged), the last failure reasons of owed events (the history keeps
 * them per endpoint), history entries of owed events (rerouting then sends to every endpoint: at
 * least once), and, last, owed events themselves. Nothing else in the record grows: the last read
 * is one CAMS answer (at most 1 MB), reasons are cut to 1 KB, dead letters and history to 50.
 * Resolves to undefined when the record already fits.
 */
export function boundFlowRecord(
  record: FlowRecord,
  maxBytes = MAX_FLOW_RECORD_BYTES,
): RecordTrim | undefined {
  let bytes = sizeOf(record);
  if (bytes <= maxBytes) return undefined;
  let history = 0;
  let reasons = 0;
  const deadLetters: OutboxEntry[] = [];
  const owedEvents: OutboxEntry[] = [];
  // Each removal takes an element and its comma; the total is measured again once it seems to fit.
  const fits = (): boolean => {
    if (bytes > maxBytes) return false;
    bytes = sizeOf(record);
    return bytes <= maxBytes;
  };

  const dropHistory = (keep: (eventId: string) => boolean) => {
    const entries = record.history ?? [];
    while (!fits()) {
      const index = entries.findIndex((entry) => !keep(entry.eventId));
      if (index < 0) return;
      const [removed] = entries.splice(index, 1);
      bytes -= sizeOf(removed) + 1;
      history += 1;
    }
  };
  const owedIds = new Set(record.outbox.map((entry) => entry.event.id));
  dropHistory((eventId) => owedIds.has(eventId));
  while (!fits() && record.deadLetters.length > 0) {
    const removed = record.deadLetters.shift() as OutboxEntry;
    bytes -= sizeOf(removed) + 1;
    deadLetters.push(removed);
  }
  for (const entry of record.outbox) {
    if (fits()) break;
    if (entry.lastReason === undefined) continue;
    bytes -= sizeOf(entry.lastReason) + ',"lastReason":'.length;
    delete entry.lastReason;
    reasons += 1;
  }
  dropHistory(() => false);
  while (!fits() && record.outbox.length > 0) {
    const removed = record.outbox.shift() as OutboxEntry;
    bytes -= sizeOf(removed) + 1;
    owedEvents.push(removed);
  }
  return { history, reasons, deadLetters, owedEvents, bytes: sizeOf(record) };
}
