/**
 * A value built when it is first asked for, then kept. Module-level zod schemas are built on
 * every cold start, before the first answer — a few milliseconds for all of ours — while a cold
 * HTTP instance's first answer (a watched flow, from the store) validates with only a few of
 * them: the CAMS, record, history and cursor schemas are built on first use instead.
 */
export function onFirstUse<T>(build: () => T): () => T {
  let built: { readonly value: T } | undefined;
  return () => {
    built ??= { value: build() };
    return built.value;
  };
}
