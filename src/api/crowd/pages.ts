/**
 * Resuming paged searches where the previous page ended.
 *
 * Crowd clients page with `start-index`, and an application's full synchronisation reads every user
 * and group in pages: with OFFSET, page k re-reads the k·size rows before it (and a group page
 * sorts every group to find its place), so reading a large directory costs quadratic work. Users
 * and groups come in a total order (users by lower-case name, unique among the names an application
 * sees; groups by lower-case name and id), so when a page ends at index N with key K, the page at
 * N is "keys after K". That is exactly the OFFSET answer as long as nothing changed in between: an
 * entry is used only while every directory of the application is still at the version the page was
 * read at (each apply bumps it). Otherwise the request falls back to OFFSET.
 */
export interface PageMark {
  versions: string;
  /** The sort key of the page's last row: `[username_lower]`, or `[lower(name), id]` for groups. */
  after: string[];
}

const MAX_ENTRIES = 2000;

export class PageMarks {
  private readonly marks = new Map<string, PageMark>();

  static key(app: string, entity: string, where: string, params: unknown[], start: number): string {
    return JSON.stringify([app, entity, where, params, start]);
  }

  get(key: string, versions: string): string[] | null {
    const m = this.marks.get(key);
    return m && m.versions === versions ? m.after : null;
  }

  set(key: string, mark: PageMark): void {
    this.marks.delete(key);
    this.marks.set(key, mark);
    // Oldest first: a Map iterates in insertion order.
    while (this.marks.size > MAX_ENTRIES) this.marks.delete(this.marks.keys().next().value as string);
  }
}
