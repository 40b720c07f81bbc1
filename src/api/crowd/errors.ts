/**
 * Crowd's error answers: `{reason, message}` (XML `<error><reason/><message/></error>`) with the
 * HTTP status Crowd uses for each reason, so a Crowd client maps them to the exceptions it knows
 * (UserNotFoundException, EventTokenExpiredException, ...).
 */
import { render, type Format } from './format.js';

/** The reasons of Crowd's ErrorEntity that this read-only directory can answer. */
export type CrowdReason =
  | 'APPLICATION_ACCESS_DENIED'
  | 'APPLICATION_PERMISSION_DENIED'
  | 'USER_NOT_FOUND'
  | 'GROUP_NOT_FOUND'
  | 'MEMBERSHIP_NOT_FOUND'
  | 'INVALID_USER_AUTHENTICATION'
  | 'INVALID_SSO_TOKEN'
  | 'ILLEGAL_ARGUMENT'
  | 'EVENT_TOKEN_EXPIRED'
  | 'UNSUPPORTED_OPERATION'
  | 'OPERATION_FAILED';

const STATUS: Record<CrowdReason, number> = {
  APPLICATION_ACCESS_DENIED: 401,
  APPLICATION_PERMISSION_DENIED: 403,
  USER_NOT_FOUND: 404,
  GROUP_NOT_FOUND: 404,
  MEMBERSHIP_NOT_FOUND: 404,
  INVALID_USER_AUTHENTICATION: 400,
  INVALID_SSO_TOKEN: 404,
  ILLEGAL_ARGUMENT: 400,
  EVENT_TOKEN_EXPIRED: 400,
  UNSUPPORTED_OPERATION: 400,
  OPERATION_FAILED: 500,
};

export class CrowdError extends Error {
  readonly status: number;
  constructor(
    readonly reason: CrowdReason,
    message: string,
  ) {
    super(message);
    this.name = 'CrowdError';
    this.status = STATUS[reason];
  }
}

export function errorBody(format: Format, reason: CrowdReason, message: string): string {
  return render(format, 'error', { reason, message });
}
