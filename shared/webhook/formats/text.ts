import type { FlowEvent } from '../types';

/** One human line for chat robots. */
export function describeEvent(event: FlowEvent): string {
  const { data } = event;
  const space = data.custSpaceId ? ` (space ${data.custSpaceId})` : '';
  if (event.type === 'flow.removed')
    return `WhatsApp Flow ${data.flowName} [${data.flowId}]${space} was removed`;
  const from = data.previousStatus ? ` from ${data.previousStatus}` : '';
  return `WhatsApp Flow ${data.flowName} [${data.flowId}]${space} changed status${from} to ${data.status ?? 'unknown'} at ${data.observedAt}`;
}

export function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
