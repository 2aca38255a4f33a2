// A timestamp shown as a short local date, with the exact RFC 3339 value in dateTime and title.
import { shortDate } from '../format';

export function Time({ at }: { at: string | null }) {
  if (!at) return null;
  return (
    <time dateTime={at} title={at}>
      {shortDate(at)}
    </time>
  );
}
