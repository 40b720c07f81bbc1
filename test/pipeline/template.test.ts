import { describe, expect, it } from 'vitest';
import { compileTemplate, templateError } from '../../src/pipeline/template.js';

const scope = {
  username: 'JDoe',
  email: 'Jane.Doe@Example.COM',
  givenName: 'Zoë',
  familyName: 'Łukasiewicz',
  attributes: { dept: 'eng', employeeNumber: 1234, empty: '', nested: { code: 'X-1' } },
};
const run = (t: string) => compileTemplate(t)(scope);

describe('templates', () => {
  it('reads fields and nested attributes', () => {
    expect(run('{{ username }}')).toBe('JDoe');
    expect(run('{{ attributes.nested.code }}')).toBe('X-1');
    expect(run('{{ attributes.employeeNumber }}')).toBe(1234);
    expect(run('id-{{ attributes.employeeNumber }}')).toBe('id-1234');
    expect(run('{{ attributes.missing }}')).toBe(null);
  });

  it('applies filters left to right', () => {
    expect(run('{{ email | strip_domain | lower }}')).toBe('jane.doe');
    expect(run('{{ email | domain | lower }}')).toBe('example.com');
    expect(run('{{ givenName | ascii | lower }}.{{ familyName | ascii | lower }}')).toBe('zoe.lukasiewicz');
    expect(run("{{ email | regex_replace:'\\.':'_' | strip_domain }}")).toBe('Jane_Doe');
    expect(run("{{ username | replace:'D':'d' | prefix:'u-' | suffix:'!' }}")).toBe('u-Jdoe!');
    expect(run('{{ familyName | truncate:3 }}')).toBe('Łuk');
    expect(run("{{ email | split:'.':0 }}")).toBe('Jane');
    expect(run("{{ email | split:'.':-1 }}")).toBe('COM');
    expect(run('{{ familyName | slug }}')).toBe('lukasiewicz');
    expect(run("{{ 'ﬁ' | nfkc }}")).toBe('fi');
    expect(run('{{ username | upper | trim }}')).toBe('JDOE');
  });

  it('falls back with || to the first non-empty alternative', () => {
    expect(run('{{ attributes.empty || attributes.missing || username | lower }}')).toBe('jdoe');
    expect(run("{{ attributes.missing || 'nobody' }}")).toBe('nobody');
    expect(run("{{ attributes.missing | default:'n/a' }}")).toBe('n/a');
  });

  it('quoted arguments may hold | and :', () => {
    expect(run("{{ username | prefix:'a|b:' }}")).toBe('a|b:JDoe');
  });

  it('rejects what it cannot compile, with a reason', () => {
    expect(templateError('{{ email | shout }}')).toMatch(/unknown filter "shout"/);
    expect(templateError('{{ email')).toMatch(/without "}}"/);
    expect(templateError("{{ email | regex_replace:'(':'x' }}")).toMatch(/invalid pattern/);
    expect(templateError('{{ email | truncate }}')).toMatch(/takes 1 argument/);
    expect(templateError('{{ process.exit() }}')).toMatch(/neither a field path nor a quoted literal/);
    expect(templateError("{{ email | prefix:'unterminated }}")).toMatch(/unterminated quote/);
    expect(templateError('{{ email | lower }}')).toBeNull();
  });
});
