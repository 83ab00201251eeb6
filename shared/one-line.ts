/**
 * Controls (a newline starts a fake line), line and paragraph separators, and the bidi marks and
 * overrides that make a client show characters in another order than they are read (Trojan Source).
 */
const LINE_BREAKING = /[\p{Cc}\p{Zl}\p{Zp}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * One line of at most `maxChars` code points: each line-breaking character becomes a space, and a
 * longer text is cut with "…", never inside a surrogate pair. A text it leaves unchanged is
 * already such a line (it is idempotent), which is how a value read back is checked.
 */
export function toOneLine(value: string, maxChars: number): string {
  // A code point is at most two code units, so this prefix holds more than maxChars of them.
  const head = value.length > 2 * maxChars ? value.slice(0, 2 * maxChars) : value;
  const codePoints = Array.from(head.replace(LINE_BREAKING, ' '));
  if (codePoints.length <= maxChars && head === value) return codePoints.join('');
  return `${codePoints.slice(0, maxChars - 1).join('')}…`;
}
