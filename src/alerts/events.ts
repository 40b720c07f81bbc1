/**
 * What an alert says, in one shape for every receiver. Events carry names, counts, run ids and
 * error codes and messages (which are secret-free by construction: see src/errors.ts), never
 * config values or credentials.
 */

export type AlertType = 'run.held' | 'connector.failing' | 'connector.stale' | 'connector.recovered' | 'test';

export interface AlertEvent {
  type: AlertType;
  connector: string;
  /** The condition that recovered, for `connector.recovered`. */
  condition?: 'failing' | 'stale';
  runId?: number;
  /** When the condition was detected (ISO 8601). */
  at: string;
  /** One line for people. */
  summary: string;
  details: Record<string, unknown>;
  /** A link to the dashboard page that shows it, when `alerts.dashboardUrl` is set. */
  url?: string;
}

/** The Slack-compatible body: `text` for notifications, a section block for the message. */
export function slackBody(e: AlertEvent): { text: string; blocks: unknown[] } {
  const icon =
    e.type === 'connector.recovered'
      ? ':white_check_mark:'
      : e.type === 'test'
        ? ':information_source:'
        : ':warning:';
  const text = `${icon} Dirsync: ${e.summary}`;
  const fields = Object.entries(e.details)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .slice(0, 10)
    .map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${String(v)}` }));
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: e.url ? `${text}\n<${e.url}|Open in Dirsync>` : text } },
  ];
  if (fields.length > 0) blocks.push({ type: 'section', fields });
  return { text, blocks };
}

/** Subject and plain-text body of an alert e-mail. */
export function emailMessage(e: AlertEvent): { subject: string; text: string } {
  const lines = [
    e.summary,
    '',
    ...Object.entries(e.details).map(
      ([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`,
    ),
  ];
  if (e.url) lines.push('', e.url);
  lines.push('', `(${e.type} at ${e.at})`);
  return { subject: `[Dirsync] ${e.summary}`, text: lines.join('\n') };
}
