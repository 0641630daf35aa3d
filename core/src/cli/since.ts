// --since accepts a duration back from now ("15m", "2h", "7d") or a date.
import ms from 'ms';

export function parseSince(text: string, now = Date.now()): number {
  const back = /^\d/.test(text) && !/^\d{4}-/.test(text) ? ms(text as ms.StringValue) : undefined;
  if (typeof back === 'number' && Number.isFinite(back)) return now - back;
  // Only ISO dates: Date.parse alone also reads words ("March 1", "hello 2020").
  const t = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(t))
    throw new Error(
      `--since "${text}": expected a duration such as 15m, 2h, 7d or a date such as 2026-11-25T10:00Z`,
    );
  return t;
}
