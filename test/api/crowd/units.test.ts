/**
 * The parts of the Crowd API that need no server: CQL and restriction bodies to SQL, content
 * negotiation, application authentication, and the `crowd` config section.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../config/load.js';
import { authenticate, loadApplications } from '../../../src/api/crowd/auth.js';
import { parseSearchBody } from '../../../src/api/crowd/body.js';
import { parseCql } from '../../../src/api/crowd/cql.js';
import { CrowdError } from '../../../src/api/crowd/errors.js';
import { negotiate, render, wrap } from '../../../src/api/crowd/format.js';
import { restrictionSql } from '../../../src/api/crowd/restriction.js';
import { DirsyncError } from '../../../src/errors.js';

function reasonOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CrowdError);
    return (e as CrowdError).reason;
  }
  throw new Error('accepted');
}

describe('CQL', () => {
  it('parses terms, wildcards, and/or precedence and parentheses', () => {
    expect(parseCql('name = "jo*"')).toEqual({
      kind: 'property',
      property: 'name',
      mode: 'STARTS_WITH',
      value: 'jo',
    });
    expect(parseCql("email='*@example.com'")).toMatchObject({ mode: 'ENDS_WITH', value: '@example.com' });
    expect(parseCql('displayName = *an*')).toMatchObject({ mode: 'CONTAINS', value: 'an' });
    expect(parseCql('name = a*b')).toMatchObject({ mode: 'WILDCARD', value: 'a*b' });
    expect(parseCql('createdDate > 2024-01-01')).toMatchObject({ mode: 'GREATER_THAN', value: '2024-01-01' });
    expect(parseCql('')).toEqual({ kind: 'all' });
    const r = parseCql('active = true AND name = a OR (email = b and lastName = "c \\" d")');
    expect(r).toEqual({
      kind: 'boolean',
      logic: 'OR',
      restrictions: [
        {
          kind: 'boolean',
          logic: 'AND',
          restrictions: [
            { kind: 'property', property: 'active', mode: 'EXACTLY_MATCHES', value: 'true' },
            { kind: 'property', property: 'name', mode: 'EXACTLY_MATCHES', value: 'a' },
          ],
        },
        {
          kind: 'boolean',
          logic: 'AND',
          restrictions: [
            { kind: 'property', property: 'email', mode: 'EXACTLY_MATCHES', value: 'b' },
            { kind: 'property', property: 'lastName', mode: 'EXACTLY_MATCHES', value: 'c " d' },
          ],
        },
      ],
    });
  });

  it('refuses malformed restrictions with ILLEGAL_ARGUMENT', () => {
    for (const bad of [
      'name',
      'name =',
      '(name = a',
      'name = a)',
      'name >= a',
      'not name = a',
      'name = "x',
      'and',
      'a = b c = d',
      '!name=a',
      '('.repeat(40) + 'a=b' + ')'.repeat(40),
    ]) {
      expect(
        reasonOf(() => parseCql(bad)),
        bad,
      ).toBe('ILLEGAL_ARGUMENT');
    }
  });
});

describe('restriction SQL', () => {
  it('is parameterised, case-insensitive and escapes LIKE wildcards', () => {
    const params: unknown[] = [];
    const sql = restrictionSql(parseCql('name = "a%_*" and active = false and email = "*x"'), 'user', params);
    expect(sql).toBe('(u.username_lower LIKE $1 AND u.active = $2::boolean AND lower(u.email) LIKE $3)');
    expect(params).toEqual(['a\\%\\_%', false, '%x']);
  });

  it('refuses unknown properties and bad values', () => {
    expect(reasonOf(() => restrictionSql(parseCql('shoeSize = 4'), 'user', []))).toBe('ILLEGAL_ARGUMENT');
    expect(reasonOf(() => restrictionSql(parseCql('active = maybe'), 'user', []))).toBe('ILLEGAL_ARGUMENT');
    expect(reasonOf(() => restrictionSql(parseCql('updatedDate < soon'), 'group', []))).toBe(
      'ILLEGAL_ARGUMENT',
    );
    expect(reasonOf(() => restrictionSql(parseCql('email = x'), 'group', []))).toBe('ILLEGAL_ARGUMENT');
  });
});

describe('search bodies', () => {
  it('reads JSON and XML forms into the same tree', () => {
    const json = {
      'restriction-type': 'boolean-search-restriction',
      'boolean-logic': 'and',
      restrictions: [
        {
          'restriction-type': 'property-search-restriction',
          property: { name: 'email', type: 'STRING' },
          'match-mode': 'CONTAINS',
          value: 'x',
        },
        {
          'restriction-type': 'property-search-restriction',
          property: { name: 'lastName', type: 'STRING' },
          'match-mode': 'NULL',
        },
      ],
    };
    const xml = `<boolean-search-restriction boolean-logic="and"><restrictions>
      <property-search-restriction><property><name>email</name><type>STRING</type></property><match-mode>CONTAINS</match-mode><value>x</value></property-search-restriction>
      <property-search-restriction><property><name>lastName</name><type>STRING</type></property><match-mode>NULL</match-mode></property-search-restriction>
      </restrictions></boolean-search-restriction>`;
    const expected = {
      kind: 'boolean',
      logic: 'AND',
      restrictions: [
        { kind: 'property', property: 'email', mode: 'CONTAINS', value: 'x' },
        { kind: 'property', property: 'lastName', mode: 'NULL', value: null },
      ],
    };
    expect(parseSearchBody(json, 'application/json')).toEqual(expected);
    expect(parseSearchBody(xml, 'application/xml')).toEqual(expected);
    expect(parseSearchBody('<null-search-restriction/>', 'text/xml')).toEqual({ kind: 'all' });
  });

  it('refuses malformed bodies', () => {
    for (const [body, type] of [
      ['<a><b></a>', 'application/xml'],
      ['<unknown-restriction/>', 'application/xml'],
      ['<boolean-search-restriction boolean-logic="xor"/>', 'application/xml'],
      [
        {
          'restriction-type': 'property-search-restriction',
          property: { name: 'email' },
          'match-mode': 'CONTAINS',
        },
        'application/json',
      ],
      [{ property: { name: 'email' } }, 'application/json'],
    ] as const) {
      expect(reasonOf(() => parseSearchBody(body, type))).toBe('ILLEGAL_ARGUMENT');
    }
  });
});

describe('formats', () => {
  it('negotiates by Accept, XML by default', () => {
    expect(negotiate(undefined)).toBe('xml');
    expect(negotiate('application/json')).toBe('json');
    expect(negotiate('application/xml, application/json;q=0.5')).toBe('xml');
    expect(negotiate('application/xml;q=0.1, application/json')).toBe('json');
    expect(negotiate('*/*')).toBe('xml');
  });

  it('writes one tree as Crowd XML and JSON, escaped', () => {
    const node = {
      '@name': 'a&<"b',
      'first-name': 'x',
      'attribute|attributes': [{ '@name': 'k', values: wrap('value', ['1', '2']) }],
      'created-date': new Date(0),
    };
    expect(render('xml', 'user', node)).toBe(
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><user name="a&amp;&lt;&quot;b"><first-name>x</first-name>' +
        '<attribute name="k"><values><value>1</value><value>2</value></values></attribute><created-date>1970-01-01T00:00:00.000Z</created-date></user>',
    );
    expect(JSON.parse(render('json', 'user', node))).toEqual({
      name: 'a&<"b',
      'first-name': 'x',
      attributes: [{ name: 'k', values: ['1', '2'] }],
      'created-date': 0,
    });
  });
});

describe('application authentication', () => {
  const apps = loadApplications(
    [
      { name: 'Jira', password: { env: 'P' }, directories: ['hr'] },
      {
        name: 'wiki',
        password: { env: 'P' },
        directories: ['hr'],
        allowedAddresses: ['10.1.0.0/16', '::1', '2001:db8::/32'],
      },
    ],
    { P: 'pa:ss' },
  );
  const auth = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

  it('accepts the name (any case) with its password, and allowed addresses only', () => {
    expect(authenticate(apps, auth('jira', 'pa:ss'), '192.0.2.1').name).toBe('Jira');
    expect(authenticate(apps, auth('wiki', 'pa:ss'), '::ffff:10.1.2.3').name).toBe('wiki');
    expect(authenticate(apps, auth('wiki', 'pa:ss'), '::1').name).toBe('wiki');
    expect(authenticate(apps, auth('wiki', 'pa:ss'), '2001:db8::5').name).toBe('wiki');
    expect(reasonOf(() => authenticate(apps, auth('wiki', 'pa:ss'), '10.2.0.1'))).toBe(
      'APPLICATION_PERMISSION_DENIED',
    );
  });

  it('answers unknown applications, wrong passwords and malformed headers alike', () => {
    for (const h of [
      auth('jira', 'pa:sS'),
      auth('confluence', 'pa:ss'),
      'Bearer x',
      'Basic',
      'Basic !!!',
      undefined,
    ]) {
      expect(reasonOf(() => authenticate(apps, h, '127.0.0.1'))).toBe('APPLICATION_ACCESS_DENIED');
    }
  });

  it('stops at start when a password secret is missing', () => {
    expect(() =>
      loadApplications([{ name: 'x', password: { env: 'NOPE' }, directories: ['hr'] }], {}),
    ).toThrow(DirsyncError);
  });
});

describe('crowd config', () => {
  const base = { connectors: [{ name: 'hr', kind: 'file', path: 'x.json' }] };
  it('defaults to no applications and accepts a full entry', () => {
    expect(parseConfig(base).crowd).toEqual({ applications: [] });
    const c = parseConfig({
      ...base,
      crowd: {
        applications: [
          {
            name: 'jira',
            password: { file: '/run/secrets/jira' },
            directories: ['hr'],
            allowedAddresses: ['10.0.0.0/8', '::1'],
          },
        ],
      },
    });
    expect(c.crowd?.applications[0]?.directories).toEqual(['hr']);
  });

  const messageOf = (crowd: unknown) => {
    try {
      parseConfig({ ...base, crowd });
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it('refuses inline passwords without echoing them, and bad CIDRs', () => {
    const m = messageOf({
      applications: [
        {
          name: 'jira',
          password: 'hunter2-inline',
          directories: ['hr'],
          allowedAddresses: ['10.0.0.0/33', 'example.com'],
        },
      ],
    });
    expect(m).toContain('crowd.applications[0].password');
    expect(m).not.toContain('hunter2-inline');
    expect(m).toContain('crowd.applications[0].allowedAddresses[0]');
    expect(m).toContain('crowd.applications[0].allowedAddresses[1]');
  });

  it('refuses unknown and repeated directories and duplicate applications', () => {
    const m = messageOf({
      applications: [
        { name: 'jira', password: { env: 'P' }, directories: ['hr'] },
        { name: 'JIRA', password: { env: 'P' }, directories: ['hr', 'hr', 'nope'] },
      ],
    });
    expect(m).toContain('crowd.applications[1].name: duplicate application name');
    expect(m).toContain('crowd.applications[1].directories[1]: "hr" is listed twice');
    expect(m).toContain('crowd.applications[1].directories[2]: no connector is named "nope"');
  });
});

describe('changeLog config', () => {
  const base = { connectors: [{ name: 'hr', kind: 'file', path: 'x.json' }] };
  const messageOf = (changeLog: unknown) => {
    try {
      parseConfig({ ...base, changeLog });
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it('keeps the change log 90 days by default; takes a duration or never', () => {
    expect(parseConfig(base).changeLog).toEqual({ retention: 90 * 86_400_000 });
    expect(parseConfig({ ...base, changeLog: { retention: '30d' } }).changeLog).toEqual({
      retention: 30 * 86_400_000,
    });
    expect(parseConfig({ ...base, changeLog: { retention: 'never' } }).changeLog).toEqual({
      retention: 'never',
    });
  });

  it('refuses a retention below an hour, a non-duration and unknown keys, with the path', () => {
    expect(messageOf({ retention: '30m' })).toContain('changeLog.retention: must be at least 1h');
    expect(messageOf({ retention: 'a while' })).toContain('changeLog.retention');
    expect(messageOf({ retention: '1d', keep: true })).toContain('changeLog');
  });
});
