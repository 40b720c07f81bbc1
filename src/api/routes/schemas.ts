/** JSON Schema pieces shared by the routes (they document the API in /openapi.json). */

export const errorSchema = {
  description: 'An error',
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

export function obj(properties: Record<string, unknown>, description?: string) {
  return { type: 'object', ...(description ? { description } : {}), properties } as const;
}

export const nameParams = {
  type: 'object',
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'connector name' },
  },
  required: ['name'],
} as const;

export const idParams = {
  type: 'object',
  // Run ids are bigint in Postgres; a larger number is no run (404), not a database error (500).
  properties: {
    id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'run id' },
  },
  required: ['id'],
} as const;

export const paging = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  offset: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 0 },
} as const;

export const pageSchema = obj({
  items: { type: 'array', items: { type: 'object' } },
  total: { type: 'integer' },
  limit: { type: 'integer' },
  offset: { type: 'integer' },
});

export const RUN_STATUSES = [
  'running',
  'succeeded',
  'failed',
  'needs_approval',
  'approved',
  'rejected',
  'superseded',
] as const;
export const OBJECT_TYPES = ['user', 'group', 'membership'] as const;
export const OPERATIONS = [
  'create',
  'update',
  'deactivate',
  'reactivate',
  'delete',
  'add',
  'remove',
] as const;
