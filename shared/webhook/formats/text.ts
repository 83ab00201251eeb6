import type { FlowEvent } from '../types';

/** Neutralises whatever a chat client would interpret in a value (mentions, links, images, tags). */
export type MarkupEscaper = (value: string) => string;

/**
 * Flow names come from CAMS, so whoever may create or rename a flow writes them. The formatter bounds
 * them itself rather than trusting the CAMS parser: events stored by older versions may hold longer ones.
 */
const MAX_NAME_CHARS = 200;
const MAX_FIELD_CHARS = 64;

/**
 * Controls (a newline starts a fake line), line and paragraph separators, and the bidi marks and
 * overrides that make a client show characters in another order than they are read (Trojan Source).
 */
const LINE_BREAKING = /[\p{Cc}\p{Zl}\p{Zp}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/** One line of at most `maxChars` code points, cut with "…"; never splits a surrogate pair. */
export function oneLine(value: string, maxChars: number): string {
  // A code point is at most two code units, so this prefix holds more than maxChars of them.
  const head = value.length > 2 * maxChars ? value.slice(0, 2 * maxChars) : value;
  const codePoints = Array.from(head.replace(LINE_BREAKING, ' '));
  if (codePoints.length <= maxChars && head === value) return codePoints.join('');
  return `${codePoints.slice(0, maxChars - 1).join('')}…`;
}

/** One human line for chat robots; every value from the event is bounded, flattened and escaped. */
export function describeEvent(event: FlowEvent, escapeMarkup: MarkupEscaper): string {
  const { data } = event;
  const field = (value: string) => escapeMarkup(oneLine(value, MAX_FIELD_CHARS));
  const name = escapeMarkup(oneLine(data.flowName, MAX_NAME_CHARS));
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
