import { toOneLine } from '../../one-line';
import type { FlowEvent } from '../types';

/** Neutralises whatever a chat client would interpret in a value (mentions, links, images, tags). */
export type MarkupEscaper = (value: string) => string;

/**
 * Flow names come from CAMS, so whoever may create or rename a flow writes them. The formatter bounds
 * them itself rather than trusting the CAMS parser: events stored by older versions may hold longer ones.
 */
const MAX_NAME_CHARS = 200;
const MAX_FIELD_CHARS = 64;

/** One human line for chat robots; every value from the event is bounded, flattened and escaped. */
export function describeEvent(event: FlowEvent, escapeMarkup: MarkupEscaper): string {
  const { data } = event;
  const field = (value: string) => escapeMarkup(toOneLine(value, MAX_FIELD_CHARS));
  const name = escapeMarkup(toOneLine(data.flowName, MAX_NAME_CHARS));
  const space = data.custSpaceId ? ` (space ${field(data.custSpaceId)})` : '';
  const flow = `WhatsApp Flow ${name} [${field(data.flowId)}]${space}`;
  if (event.type === 'flow.removed') return `${flow} was removed`;
  const from = data.previousStatus ? ` from ${field(data.previousStatus)}` : '';
  return `${flow} changed status${from} to ${field(data.status ?? 'unknown')} at ${field(data.observedAt)}`;
}

export function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
