/** The directory of one connector: users, groups, direct and effective (nested) memberships. */
import type { FastifyInstance } from 'fastify';
import { connectorOf, type ApiContext } from '../context.js';
import { getGroup, getUser, searchGroups, searchUsers } from '../queries.js';
import { sendError } from '../security.js';
import { errorSchema, nameParams, pageSchema, paging } from './schemas.js';

const objParams = {
  type: 'object',
  properties: {
    name: nameParams.properties.name,
    externalId: { type: 'string', minLength: 1, maxLength: 1024, description: "the IdP's id" },
  },
  required: ['name', 'externalId'],
} as const;

const search = {
  type: 'object',
  additionalProperties: false,
  properties: {
    q: { type: 'string', maxLength: 200, description: 'substring of username, email, name or id' },
    ...paging,
  },
} as const;

export function directoryRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{
    Params: { name: string };
    Querystring: { q?: string; active?: boolean; limit: number; offset: number };
  }>(
    '/api/connectors/:name/users',
    {
      schema: {
        tags: ['directory'],
        summary: 'Users of a directory, searched and paged',
        params: nameParams,
        querystring: { ...search, properties: { ...search.properties, active: { type: 'boolean' } } },
        response: { 200: pageSchema, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req) => searchUsers(ctx.pool, connectorOf(ctx, req.params.name).name, req.query),
  );

  app.get<{ Params: { name: string; externalId: string } }>(
    '/api/connectors/:name/users/:externalId',
    {
      schema: {
        tags: ['directory'],
        summary: 'One user with its groups: direct, and effective through nested groups',
        params: objParams,
        response: { 200: { type: 'object' }, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const user = await getUser(ctx.pool, connectorOf(ctx, req.params.name).name, req.params.externalId);
      if (!user)
        return sendError(reply, 404, 'NOT_FOUND', `no user ${req.params.externalId} in ${req.params.name}`);
      return user;
    },
  );

  app.get<{ Params: { name: string }; Querystring: { q?: string; limit: number; offset: number } }>(
    '/api/connectors/:name/groups',
    {
      schema: {
        tags: ['directory'],
        summary: 'Groups of a directory, searched and paged',
        params: nameParams,
        querystring: search,
        response: { 200: pageSchema, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req) => searchGroups(ctx.pool, connectorOf(ctx, req.params.name).name, req.query),
  );

  app.get<{
    Params: { name: string; externalId: string };
    Querystring: { effective: boolean; limit: number; offset: number };
  }>(
    '/api/connectors/:name/groups/:externalId',
    {
      schema: {
        tags: ['directory'],
        summary: 'One group: members (direct, or effective with ?effective=true), subgroups and parents',
        params: objParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { effective: { type: 'boolean', default: false }, ...paging },
        },
        response: { 200: { type: 'object' }, 400: errorSchema, 404: errorSchema },
      },
    },
    async (req, reply) => {
      const group = await getGroup(
        ctx.pool,
        connectorOf(ctx, req.params.name).name,
        req.params.externalId,
        req.query,
      );
      if (!group)
        return sendError(reply, 404, 'NOT_FOUND', `no group ${req.params.externalId} in ${req.params.name}`);
      return group;
    },
  );
}
