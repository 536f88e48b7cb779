/**
 * Cursor paging state for "Previous / Next" controls over a keyset-paginated list: the stack of
 * cursors that led to the current page (the first page's cursor is null). Pure, so it is unit-tested.
 */
export class CursorTrail {
  private readonly trail: (string | null)[];

  constructor(trail: (string | null)[] = [null]) {
    this.trail = trail.length ? trail : [null];
  }

  /** The cursor of the page being shown (null: the first page). */
  get current(): string | null {
    return this.trail[this.trail.length - 1];
  }
  /** 1-based number of the page being shown. */
  get pageNumber(): number {
    return this.trail.length;
  }
  get hasPrevious(): boolean {
    return this.trail.length > 1;
  }
  /** The trail after moving to the page that `nextCursor` opens. */
  next(nextCursor: string): CursorTrail {
    return new CursorTrail([...this.trail, nextCursor]);
  }
  /** The trail after moving back one page (stays on the first page). */
  previous(): CursorTrail {
    return this.hasPrevious ? new CursorTrail(this.trail.slice(0, -1)) : this;
  }
  /** Back to the first page (e.g. after the filters changed). */
  static first(): CursorTrail {
    return new CursorTrail();
  }
}
