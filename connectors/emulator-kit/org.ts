/**
 * A deterministic generator of realistic organisations, shared by every IdP emulator and by the
 * benchmarks. The model is IdP-neutral; each emulator renders it in its own wire format.
 *
 * Realism that has caught sync tools out: Unicode names (combining marks, CJK, Turkish dotless i),
 * users without an email, suspended/disabled users, duplicate display names, empty groups, one huge
 * group, and nested groups several levels deep.
 */

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same org on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface OrgUser {
  /** Stable index-derived id; emulators may format it as their IdP does. */
  id: string;
  /** Login name, unique case-insensitively, ASCII (e.g. `jose.garcia42`). */
  login: string;
  email: string | null;
  givenName: string;
  familyName: string;
  displayName: string;
  /** `active` users can sign in; `suspended` are disabled but kept; `deprovisioned` are off-boarded. */
  status: 'active' | 'suspended' | 'deprovisioned';
  department: string;
  title: string;
  /** ISO timestamp. */
  created: string;
}

export interface OrgGroup {
  id: string;
  name: string;
  description: string;
  /** The group this one is nested in, if any (a tree: Keycloak's model; DAG IdPs may add more). */
  parentId: string | null;
  created: string;
}

export interface Org {
  domain: string;
  users: OrgUser[];
  groups: OrgGroup[];
  /** Direct user members per group id. */
  members: Map<string, Set<string>>;
}

export interface OrgOptions {
  users: number;
  groups: number;
  /** Average direct user members per group (the actual sizes vary widely around it). */
  membersPerGroup: number;
  /** Maximum nesting depth of groups (0 = flat). */
  nestingDepth: number;
  seed: number;
  /** Number of groups nested in another group; defaults to a fifth of the groups when depth > 0. */
  nestedGroups?: number;
  domain?: string;
}

const GIVEN = [
  'Anna',
  'José',
  'Zoë',
  'Łukasz',
  'Ömer',
  'Siobhán',
  'Chloé',
  'İlkay',
  'Dmitrij',
  'Mei',
  'Søren',
  'Ngozi',
  'Aarav',
  'Émile',
  'Björk',
  'Hana',
  'Renée',
  'Miguel',
  'Yuki',
  'Fatima',
  'Chen',
  'Olga',
  'Noah',
  'Ana',
  'Kwame',
  'Ines',
  'Ravi',
  'Sofía',
  'Jürgen',
  'Ayşe',
  '翔太',
  'Малика',
  'Νίκος',
  'Thảo',
  'Zoe',
  'Liam',
  'Emma',
  'Jose',
  'Åsa',
  'Ðorđe',
];
const FAMILY = [
  'García',
  'Müller',
  'Nguyễn',
  'Kowalski',
  "O'Brien",
  'Smith',
  'Dubois',
  'Yılmaz',
  'Rossi',
  'Tanaka',
  'Øvergård',
  'Okafor',
  'Patel',
  'Fernández',
  'Schröder',
  'Kim',
  'Lefèvre',
  'Silva',
  'Ivanova',
  'Haddad',
  'Wang',
  'Novák',
  'Johansson',
  'de la Cruz',
  'van der Berg',
  'Mensah',
  'Costa',
  'Sato',
  'Popescu',
  'Şahin',
  '佐藤',
  'Петров',
  'Παπαδόπουλος',
  'Trần',
  'Lee',
  'Brown',
  'Martin',
  'Jones',
  'Ålund',
  'Đukić',
];
const DEPARTMENTS = ['Engineering', 'Sales', 'Marketing', 'Finance', 'Support', 'People', 'Legal', 'Design'];
const TITLES = [
  'Engineer',
  'Senior Engineer',
  'Manager',
  'Director',
  'Analyst',
  'Specialist',
  'Lead',
  'Intern',
];
const GROUP_WORDS = [
  'eng',
  'platform',
  'payments',
  'growth',
  'data',
  'sre',
  'mobile',
  'web',
  'security',
  'finance',
  'sales-emea',
  'sales-apac',
  'support-tier1',
  'support-tier2',
  'design',
  'people-ops',
  'legal',
  'qa',
];

/** ASCII-folds a name for logins and email local parts (é → e, ł → l; others dropped). */
export function asciiFold(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/ł/g, 'l')
    .replace(/Ł/g, 'L')
    .replace(/ø/g, 'o')
    .replace(/Ø/g, 'O')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .replace(/ı/g, 'i')
    .replace(/[^A-Za-z0-9]/g, '')
    .toLowerCase();
}

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)] as T;
}

/** Zero-padded hex id from an index: stable across runs, sortable, distinct per kind. */
export function indexId(prefix: string, i: number): string {
  return `${prefix}${i.toString(16).padStart(8, '0')}`;
}

/** Only the org shape of an emulator's options (not its domain or nestedGroups), for `generateOrg`. */
export function orgShape(
  o: Pick<OrgOptions, 'users' | 'groups' | 'membersPerGroup' | 'nestingDepth' | 'seed'>,
): OrgOptions {
  return {
    users: o.users,
    groups: o.groups,
    membersPerGroup: o.membersPerGroup,
    nestingDepth: o.nestingDepth,
    seed: o.seed,
  };
}

export function generateOrg(opts: OrgOptions): Org {
  const rnd = prng(opts.seed);
  const domain = opts.domain ?? 'example.com';
  const created = (i: number) => new Date(Date.UTC(2020, 0, 1) + i * 60_000).toISOString();
  const users: OrgUser[] = [];
  const logins = new Set<string>();
  for (let i = 0; i < opts.users; i++) {
    const givenName = pick(rnd, GIVEN);
    const familyName = pick(rnd, FAMILY);
    let base = `${asciiFold(givenName) || 'user'}.${asciiFold(familyName) || 'x'}`;
    if (logins.has(base)) base = `${base}${i}`;
    logins.add(base);
    const r = rnd();
    users.push({
      id: indexId('u', i),
      login: base,
      // About 2% have no mailbox (service accounts, contractors without licences).
      email: r < 0.02 ? null : `${base}@${domain}`,
      givenName,
      familyName,
      // Display names repeat on purpose: two "Anna Müller"s are normal in a big company.
      displayName: `${givenName} ${familyName}`,
      status: r > 0.97 ? 'suspended' : r > 0.96 ? 'deprovisioned' : 'active',
      department: pick(rnd, DEPARTMENTS),
      title: pick(rnd, TITLES),
      created: created(i),
    });
  }

  const groups: OrgGroup[] = [];
  for (let g = 0; g < opts.groups; g++) {
    const word = GROUP_WORDS[g % GROUP_WORDS.length] as string;
    groups.push({
      id: indexId('g', g),
      name: g < GROUP_WORDS.length ? word : `${word}-${g}`,
      description: g % 7 === 0 ? '' : `Team ${word} (${g})`,
      parentId: null,
      created: created(g),
    });
  }

  // Nesting: a forest whose depth never exceeds nestingDepth. Parents are chosen among groups
  // whose own depth leaves room, so deep chains exist when the org is large enough.
  if (opts.nestingDepth > 0 && groups.length > 1) {
    const nested = Math.min(opts.nestedGroups ?? Math.floor(groups.length / 5), groups.length - 1);
    const depth = new Map<string, number>();
    // The last `nested` groups become children of earlier ones.
    for (let k = 0; k < nested; k++) {
      const child = groups[groups.length - 1 - k] as OrgGroup;
      for (let attempt = 0; attempt < 8; attempt++) {
        const parentIndex = Math.floor(rnd() * (groups.length - nested));
        // Prefer the previously nested groups now and then, to build chains.
        const parent =
          k > 0 && rnd() < 0.5
            ? (groups[groups.length - k + Math.floor(rnd() * k)] as OrgGroup)
            : (groups[parentIndex] as OrgGroup);
        const d = (depth.get(parent.id) ?? 0) + 1;
        if (parent.id !== child.id && d <= opts.nestingDepth) {
          child.parentId = parent.id;
          depth.set(child.id, d);
          break;
        }
      }
    }
  }

  // Member counts: most groups near the average, some empty, one huge (a quarter of the users).
  const members = new Map<string, Set<string>>();
  const target = opts.membersPerGroup;
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g] as OrgGroup;
    const set = new Set<string>();
    let size: number;
    if (g % 50 === 7) size = 0;
    else if (g === 1 && groups.length > 2)
      size = Math.min(users.length, Math.max(target, Math.floor(users.length / 4)));
    else size = Math.max(0, Math.round(target * (0.5 + rnd())));
    size = Math.min(size, users.length);
    if (size > 0) {
      // A random contiguous window with a random stride: fast, varied, and with no duplicates.
      const start = Math.floor(rnd() * users.length);
      const stride = 1 + Math.floor(rnd() * 7);
      for (let k = 0; set.size < size && k < users.length * 2; k++) {
        set.add((users[(start + k * stride) % users.length] as OrgUser).id);
      }
    }
    members.set(group.id, set);
  }
  return { domain, users, groups, members };
}

/** Total direct user memberships in an org. */
export function countMemberships(org: Org): number {
  let n = 0;
  for (const s of org.members.values()) n += s.size;
  return n;
}
