/**
 * An invocation's timeout in seconds from the runtime's context, or `defaultS`. FC always sends a
 * positive number, but the context comes from outside: a string or an object would make every
 * deadline NaN, which no clock ever passes nor stays before (each call then ends at once as
 * "too late", after being started and counted against the account's budget).
 */
export function invocationTimeoutS(
  context: { readonly function?: unknown } | undefined,
  defaultS: number,
): number {
  const timeout = (context?.function as { readonly timeout?: unknown } | undefined)?.timeout;
  return typeof timeout === 'number' && Number.isFinite(timeout) && timeout > 0 ? timeout : defaultS;
}
