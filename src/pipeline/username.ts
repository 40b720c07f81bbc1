/**
 * When two usernames are the same name to a person.
 *
 * - The key: default-ignorable code points removed (zero-width space, joiners, soft hyphen,
 *   variation selectors, ...), NFKC, full Unicode case folding (`ß` → `ss`, final sigma → `σ`,
 *   `ﬁ` → `fi`), NFKC again (folding can un-normalize), leading and trailing white space trimmed.
 *   Two users with the same key are a collision: the incumbent keeps the name, the newcomer is held.
 * - The skeleton (Unicode TR39 §4): NFD, each character replaced by its prototype from the
 *   confusables data, NFD again; computed from the key, so it ignores case too. A newcomer whose
 *   skeleton equals an existing user's while the keys differ (Cyrillic `а` in `аdmin`) is held as
 *   confusable. Only when at least one of the two names has a non-ASCII character: TR39 also maps
 *   `1` → `l` and `m` → `rn`, and `user1` next to `userl` is a naming choice, not a spoofing attempt.
 *
 * Libraries: `unicode-case-folding` (CaseFolding.txt, statuses C and F: full folding, which
 * `toLowerCase` is not) and `unhomoglyph` (the TR39 confusables mapping). Default_Ignorable_Code_Point
 * is a Unicode property JS regexps know. ASCII names take a table-driven path: most directories are
 * ASCII, and this runs once per user.
 */
import { caseFold } from 'unicode-case-folding';
import unhomoglyph from 'unhomoglyph';

const DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;
// eslint-disable-next-line no-control-regex -- the ASCII range, control characters included
const ASCII = /^[\x00-\x7f]*$/;

/** The key two usernames are compared by (see the module comment). */
export function usernameKey(username: string): string {
  if (ASCII.test(username)) return username.toLowerCase().trim();
  const visible = username.replace(DEFAULT_IGNORABLE, '');
  return caseFold(visible.normalize('NFKC')).normalize('NFKC').trim();
}

// TR39 prototypes of the ASCII characters, looked up once.
const ASCII_SKELETON: string[] = Array.from({ length: 128 }, (_, c) =>
  unhomoglyph(String.fromCharCode(c)).normalize('NFD'),
);

/** The TR39 skeleton of a username key. */
export function keySkeleton(key: string): string {
  if (ASCII.test(key)) {
    let out = '';
    for (let i = 0; i < key.length; i++) out += ASCII_SKELETON[key.charCodeAt(i)];
    return out;
  }
  return unhomoglyph(key.normalize('NFD')).normalize('NFD');
}
