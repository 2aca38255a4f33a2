// Date formatting: the exact time in the viewer's time zone with the zone named, and a relative
// age ("3 days ago", "in 5 days"). The exact RFC 3339 value stays in <time dateTime>.

// The exact local time with its zone, e.g. "Dec 7, 2026, 04:43 PM GMT+1".
export function exactTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  });
}

// A short local date and time without the zone, for narrow places.
export function shortDate(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

// Each unit with its size in seconds and from how far away it is used: days up to two months,
// so "in 30 days" and "in 40 days" read as chosen.
const UNITS: [Intl.RelativeTimeFormatUnit, number, number][] = [
  ['year', 365 * 86_400, 365 * 86_400],
  ['month', 30 * 86_400, 60 * 86_400],
  ['day', 86_400, 86_400],
  ['hour', 3_600, 3_600],
  ['minute', 60, 60],
  ['second', 1, 0],
];

// How far `iso` is from `now` in the largest unit that fits, rounded: "3 days ago", "in 5 days",
// "tomorrow", "now".
export function relativeTime(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const seconds = Math.round((t - now.getTime()) / 1000);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const [unit, size] = UNITS.find(([, , from]) => Math.abs(seconds) >= from) ?? UNITS[UNITS.length - 1];
  return rtf.format(Math.round(seconds / size), unit);
}
