"use client";

import type { CursorTrail } from "@/lib/paging";

/** Previous / Next over a cursor-paginated list. */
export function Pager({
  trail,
  nextCursor,
  onChange,
  label,
}: {
  trail: CursorTrail;
  nextCursor: string | null;
  onChange: (trail: CursorTrail) => void;
  label: string;
}) {
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" disabled={!trail.hasPrevious} onClick={() => onChange(trail.previous())}>
        ← Previous
      </button>
      <span aria-live="polite">Page {trail.pageNumber}</span>
      <button type="button" disabled={!nextCursor} onClick={() => nextCursor && onChange(trail.next(nextCursor))}>
        Next →
      </button>
    </nav>
  );
}
