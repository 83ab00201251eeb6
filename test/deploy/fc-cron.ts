// FC timer trigger cronExpression (fc-runtime.md): `@every <duration>` of at least one minute, or six
// fields in UTC (second minute hour day-of-month month day-of-week), optionally after `CRON_TZ=<zone> `.
const FIELDS: ReadonlyArray<{ name: string; min: number; max: number; names?: readonly string[] }> = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'day-of-week', min: 0, max: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

function fieldValue(token: string, field: (typeof FIELDS)[number]): number | undefined {
  const named = field.names?.indexOf(token.toUpperCase()) ?? -1;
  const value = named >= 0 ? named + field.min : /^\d+$/.test(token) ? Number(token) : Number.NaN;
  return value >= field.min && value <= field.max ? value : undefined;
}

function fieldProblem(text: string, field: (typeof FIELDS)[number]): string | undefined {
  for (const part of text.split(',')) {
    const [range = '', step, ...extra] = part.split('/');
    if (extra.length > 0 || (step !== undefined && !/^[1-9]\d*$/.test(step))) return `bad step in "${part}"`;
    if (range === '*' || (range === '?' && /day/.test(field.name))) continue;
    const [from = '', to, ...more] = range.split('-');
    if (more.length > 0 || fieldValue(from, field) === undefined) return `"${part}" is out of range`;
    if (to !== undefined && (fieldValue(to, field) ?? -1) < (fieldValue(from, field) ?? 0)) {
      return `"${part}" is not a range`;
    }
  }
  return undefined;
}

/** Why FC would refuse this cronExpression, or undefined when it is valid. */
export function fcCronProblem(expression: string): string | undefined {
  const every = /^@every ((\d+)h)?((\d+)m)?$/.exec(expression);
  if (every) {
    const minutes = Number(every[2] ?? 0) * 60 + Number(every[4] ?? 0);
    return minutes >= 1 ? undefined : '@every needs at least 1m';
  }
  if (expression.startsWith('@')) return 'only @every <hours>h<minutes>m is supported';
  const fields = expression.replace(/^CRON_TZ=[A-Za-z_+\-/0-9]+ /, '').split(' ');
  if (fields.length !== FIELDS.length) return `needs ${FIELDS.length} fields, has ${fields.length}`;
  for (const [index, field] of FIELDS.entries()) {
    const problem = fieldProblem(fields[index] ?? '', field);
    if (problem) return `${field.name}: ${problem}`;
  }
  return undefined;
}
