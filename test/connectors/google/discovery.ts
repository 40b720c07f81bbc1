/**
 * A small validator for Google API discovery-document schemas (`type`, `properties`, `items`,
 * `additionalProperties`, `$ref`, `format`, `enum`): enough to hold the emulator's responses to
 * the official Admin SDK Directory and Reports API descriptions.
 * Format: https://developers.google.com/discovery/v1/reference/apis
 */
import { readFileSync } from 'node:fs';
import { specPath } from '../../helpers/specs.js';

export interface DiscoverySchema {
  id?: string;
  type?: string;
  $ref?: string;
  properties?: Record<string, DiscoverySchema>;
  additionalProperties?: DiscoverySchema;
  items?: DiscoverySchema;
  format?: string;
  enum?: string[];
}

export interface DiscoveryDocument {
  schemas: Record<string, DiscoverySchema>;
  resources: Record<
    string,
    { methods: Record<string, { parameters: Record<string, { maximum?: string; default?: string }> }> }
  >;
}

/** An official Google spec file (see specPath). */
export function googleSpec(file: string): string {
  return specPath(`google/${file}`);
}

/** The Directory API discovery document. */
export const SPEC_PATH = googleSpec('admin-directory_v1.json');
/** The Reports API discovery document. */
export const REPORTS_SPEC_PATH = googleSpec('admin-reports_v1.json');

export function loadDiscovery(path = SPEC_PATH): DiscoveryDocument {
  return JSON.parse(readFileSync(path, 'utf8')) as DiscoveryDocument;
}

/** Returns every mismatch as `path: problem`; an empty list means the value conforms. */
export function validate(doc: DiscoveryDocument, schemaName: string, value: unknown): string[] {
  const errors: string[] = [];
  const root = doc.schemas[schemaName];
  if (!root) return [`no schema ${schemaName}`];
  check(doc, root, value, schemaName, errors);
  return errors;
}

function check(
  doc: DiscoveryDocument,
  schema: DiscoverySchema,
  value: unknown,
  path: string,
  errors: string[],
): void {
  if (schema.$ref) {
    const target = doc.schemas[schema.$ref];
    if (!target) errors.push(`${path}: unknown $ref ${schema.$ref}`);
    else check(doc, target, value, path, errors);
    return;
  }
  switch (schema.type) {
    case 'any':
    case undefined:
      return;
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        errors.push(`${path}: expected an object`);
        return;
      }
      for (const [k, v] of Object.entries(value)) {
        const prop = schema.properties?.[k] ?? schema.additionalProperties;
        if (!prop) errors.push(`${path}.${k}: not a property of the schema`);
        else check(doc, prop, v, `${path}.${k}`, errors);
      }
      return;
    }
    case 'array':
      if (!Array.isArray(value)) errors.push(`${path}: expected an array`);
      else if (schema.items)
        value.forEach((v, i) => check(doc, schema.items as DiscoverySchema, v, `${path}[${i}]`, errors));
      return;
    case 'string':
      if (typeof value !== 'string') {
        errors.push(`${path}: expected a string, got ${typeof value}`);
        return;
      }
      if ((schema.format === 'int64' || schema.format === 'uint64') && !/^-?\d+$/.test(value)) {
        errors.push(`${path}: "${value}" is not an ${schema.format}`);
      }
      if (schema.format === 'date-time' && Number.isNaN(Date.parse(value)))
        errors.push(`${path}: not a date-time`);
      if (schema.enum && !schema.enum.includes(value))
        errors.push(`${path}: "${value}" not in ${schema.enum.join('|')}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') errors.push(`${path}: expected a boolean, got ${typeof value}`);
      return;
    case 'integer':
      if (!Number.isInteger(value)) errors.push(`${path}: expected an integer`);
      return;
    case 'number':
      if (typeof value !== 'number') errors.push(`${path}: expected a number`);
      return;
    default:
      errors.push(`${path}: unknown schema type ${schema.type}`);
  }
}
