// A timestamp, the one way the UI shows dates: relative ("3 days ago", "in 5 days") by default,
// or the exact local time with its zone (`exact`). The exact time is always in the title (hover)
// and, for screen readers, in visually hidden text; <time dateTime> keeps the RFC 3339 value.
import { exactTime, relativeTime } from '../format';

export function Time({ at, exact = false }: { at: string | null; exact?: boolean }) {
  if (!at) return null;
  const full = exactTime(at);
  if (exact) {
    return (
      <time dateTime={at} title={full}>
        {full} <span className="muted">({relativeTime(at)})</span>
      </time>
    );
  }
  return (
    <time dateTime={at} title={full}>
      {relativeTime(at)}
      <span className="visually-hidden"> ({full})</span>
    </time>
  );
}
