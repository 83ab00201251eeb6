/** A comma-separated configuration value as its entries: trimmed, blanks and empty entries ignored. */
export function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}
