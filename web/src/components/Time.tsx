import { dateTime, relativeTime } from "../lib/format";

/** A moment as a relative time, with the full date in the viewer's zone on hover. */
export function Time({ at }: { at: string | null | undefined }) {
  if (!at) return <span className="muted">—</span>;
  return (
    <time dateTime={at} title={dateTime(at)}>
      {relativeTime(at)}
    </time>
  );
}
