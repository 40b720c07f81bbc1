/** Human-readable output of the CLI. */
import type { ChangeCounts } from '../pipeline/diff.js';
import type { RunSummary } from '../pipeline/run.js';
import type { ObjectHistory } from '../store/history.js';
import type { ChangeRow, ConnectorStatus } from '../store/queries.js';
import { changedFields, showValue } from '../util/change-fields.js';
import { formatDuration } from '../util/duration.js';

export function countsLine(c: ChangeCounts): string {
  const part = (name: string, o: Record<string, number>) => {
    const xs = Object.entries(o)
      .filter(([, n]) => n > 0)
      .map(([op, n]) => `${n} ${op}`);
    return `${name}: ${xs.length ? xs.join(', ') : 'no change'}`;
  };
  return [part('users', c.users), part('groups', c.groups), part('memberships', c.memberships)].join(' · ');
}

export function summaryText(s: RunSummary): string {
  const lines: string[] = [];
  const head =
    s.status === 'needs_approval'
      ? `Run ${s.runId} of ${s.connector} is HELD for approval: nothing was applied.`
      : s.dryRun
        ? `Dry run ${s.runId} of ${s.connector}: nothing was applied.${s.guard?.length ? ' A real run would be HELD for approval.' : ''}`
        : `Run ${s.runId} of ${s.connector} succeeded.`;
  lines.push(head);
  lines.push(`  ${countsLine(s.counts)}`);
  lines.push(`  read: ${s.mode} (${s.modeReason})`);
  if (s.unchangedSince !== undefined) {
    lines.push(`  the snapshot is identical to the one run ${s.unchangedSince} applied: nothing to compare`);
  }
  const snap = s.snapshot;
  lines.push(
    `  snapshot: ${snap.users ?? 0} users, ${snap.groups ?? 0} groups, ${snap.edges ?? 0} memberships` +
      (snap.problems
        ? ` · ${snap.problems} problem(s) held or skipped (see: dirsync changes ${s.runId})`
        : ''),
  );
  lines.push(
    `  time: ${Object.entries(s.phaseMs)
      .map(([p, ms]) => `${p} ${formatDuration(ms)}`)
      .join(', ')}` +
      (s.requests ? ` · ${s.requests} requests${s.throttled ? `, ${s.throttled} throttled` : ''}` : ''),
  );
  for (const g of s.guard ?? []) lines.push(`  guard: ${g.kind}: ${g.removals} removal(s): ${g.rule}`);
  if (s.status === 'needs_approval') {
    lines.push(
      `  review: dirsync changes ${s.runId} · approve: dirsync approve ${s.runId} · reject: dirsync reject ${s.runId}`,
    );
  }
  return lines.join('\n');
}

export function changeText(c: ChangeRow): string {
  if (c.object_type === 'membership') {
    const sign = c.operation === 'add' ? '+' : '-';
    const dir = c.operation === 'add' ? 'to' : 'from';
    const ids = c.member_ids ?? [];
    const names = ids.map((id, i) => c.member_labels?.[i] ?? id);
    const shown = names.slice(0, 8).join(', ') + (names.length > 8 ? `, … (${names.length - 8} more)` : '');
    const what = `${ids.length} ${c.member_type}${ids.length === 1 ? '' : 's'}`;
    return `  ${sign} ${what} ${dir} group ${c.label ?? c.external_id}: ${shown}`;
  }
  const what = `${c.object_type} ${c.label ?? ''} (${c.external_id})`;
  if (c.before && c.after) {
    const delta = changedFields(c.operation, c.before, c.after).map(
      (f) => `${f.field}: ${showValue(f.before)} → ${showValue(f.after)}`,
    );
    return `  ~ ${c.operation} ${what}${delta.length ? `: ${delta.join(', ')}` : ''}`;
  }
  return `  ${c.operation === 'create' ? '+' : c.operation === 'delete' ? '-' : '~'} ${c.operation} ${what}`;
}

export function statusText(rows: ConnectorStatus[]): string {
  const lines = ['CONNECTOR            KIND       USERS (ACTIVE)   GROUPS  LAST RUN'];
  for (const r of rows) {
    const last = r.lastRun
      ? `#${r.lastRun.id} ${r.lastRun.status}${r.lastRun.dryRun ? ' (dry run)' : ''} ${timeText(r.lastRun.startedAt)}` +
        (r.lastRun.mode ? ` ${r.lastRun.mode} (${r.lastRun.modeReason ?? ''})` : '') +
        (r.lastRun.errorCode ? ` ${r.lastRun.errorCode}` : '')
      : 'never';
    const users = `${r.users} (${r.activeUsers})`;
    lines.push(
      `${r.connector.padEnd(20)} ${(r.kind ?? '-').padEnd(10)} ${users.padEnd(16)} ${String(r.groups).padEnd(7)} ${last}`,
    );
  }
  return lines.join('\n');
}

/** A change row as the JSON of every command prints it: camelCase, with the changed fields. */
export function changeJson(c: ChangeRow) {
  return {
    object: c.object_type,
    operation: c.operation,
    externalId: c.external_id,
    label: c.label,
    memberType: c.member_type,
    memberIds: c.member_ids,
    memberLabels: c.member_labels,
    before: c.before,
    after: c.after,
    fields: changedFields(c.operation, c.before, c.after),
  };
}

/** A time as the CLI prints every time: ISO 8601 in UTC, to the second (`2026-11-28 09:14:03Z`). */
export function timeText(iso: string | Date): string {
  return new Date(iso)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

export function historyText(h: ObjectHistory): string {
  const lines = [
    `${h.type} ${h.label} (${h.externalId})` +
      (h.type === 'user'
        ? h.active === null
          ? ' · no longer in the directory'
          : h.active
            ? ' · active'
            : ' · inactive'
        : ''),
  ];
  if (h.deletionDueAt) lines.push(`  left the identity provider; deleted on ${timeText(h.deletionDueAt)}`);
  if (h.prunedBefore)
    lines.push(`  changes before ${timeText(h.prunedBefore)} are no longer kept (changeLog.retention)`);
  if (h.entries.length === 0)
    lines.push(h.prunedBefore ? '  no recorded changes since' : '  no recorded changes');
  for (const e of h.entries) {
    const when = `${timeText(e.at)} run ${e.runId} (${e.trigger}${e.runStatus === 'succeeded' || e.runStatus === 'approved' ? '' : `, ${e.runStatus}`})`;
    let what: string;
    if (e.object === 'membership') {
      what = e.other
        ? `${e.operation === 'add' ? 'joined' : 'left'} group ${e.other.label ?? e.other.externalId}`
        : `${e.operation === 'add' ? 'added' : 'removed'} ${e.members ?? 0} ${e.memberType ?? 'member'}${e.members === 1 ? '' : 's'}`;
    } else {
      const fields = e.fields
        .map((f) => `${f.field}: ${showValue(f.before)} → ${showValue(f.after)}`)
        .join(', ');
      what = `${e.operation}${fields ? `: ${fields}` : ''}`;
    }
    lines.push(`  ${when}  ${what}${e.why ? ` (${e.why})` : ''}`);
  }
  return lines.join('\n');
}
