import * as z from 'zod/mini';
import '../../shared/zod-english';

const timerEventSchema = z.object({
  triggerTime: z.optional(z.string()),
  triggerName: z.optional(z.string()),
  payload: z.optional(z.string()),
});

export interface TimerEvent {
  readonly triggerTime: string | undefined;
  readonly triggerName: string | undefined;
  /** The trigger's payload parsed as JSON when it is JSON; otherwise the raw string, or undefined. */
  readonly payload: unknown;
  /** Why the event was not understood, if it was not; the run goes ahead anyway. */
  readonly problem: string | undefined;
}

/** FC's timer event: a Buffer of JSON whose `payload` is whatever string the trigger was given. */
export function parseTimerEvent(event: unknown): TimerEvent {
  let json: unknown = event;
  if (Buffer.isBuffer(event) || event instanceof Uint8Array || typeof event === 'string') {
    const text = Buffer.from(event as Uint8Array | string).toString('utf8');
    if (text.trim() === '')
      return { triggerTime: undefined, triggerName: undefined, payload: undefined, problem: undefined };
    try {
      json = JSON.parse(text);
    } catch {
      return {
        triggerTime: undefined,
        triggerName: undefined,
        payload: undefined,
        problem: 'event is not JSON',
      };
    }
  }
  const parsed = timerEventSchema.safeParse(json);
  if (!parsed.success) {
    return {
      triggerTime: undefined,
      triggerName: undefined,
      payload: undefined,
      problem: 'event is not a timer event',
    };
  }
  let payload: unknown = parsed.data.payload;
  if (typeof payload === 'string') {
    try {
      payload = JSON.parse(payload);
    } catch {
      // A plain-string payload is allowed: FC passes the trigger's text as is.
    }
  }
  return {
    triggerTime: parsed.data.triggerTime,
    triggerName: parsed.data.triggerName,
    payload,
    problem: undefined,
  };
}
