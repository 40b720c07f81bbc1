/* global document, window, URLSearchParams */
/**
 * The Dirsync dashboard: hash routes, each a function that fetches from the JSON API and renders.
 * The live view listens to /api/events (Server-Sent Events) and re-renders the current page when a
 * run moves, keeping keyboard focus where it was.
 */
import { changesChart, guardChart, removalsChart, sizeChart } from './chart.js';
import {
  absolute,
  api,
  confirmDialog,
  badge,
  countsLine,
  duration,
  h,
  num,
  opBadge,
  pager,
  qs,
  refreshTimes,
  setCsrf,
  time,
  toast,
  totalChanges,
} from './ui.js';

const main = document.getElementById('main');
const session = { queue: false, bullBoard: false };
let connectors = [];

// --- router -----------------------------------------------------------------------------------

function parseHash() {
  const raw = window.location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return {
    parts: path.split('/').filter(Boolean).map(decodeURIComponent),
    params: new URLSearchParams(query),
  };
}

export function go(path, params = {}) {
  window.location.hash = `#${path}${qs(params)}`;
}

const routes = [
  [[], overview, 'overview'],
  [['runs'], runsPage, 'runs'],
  [['runs', ':id'], runPage, 'runs'],
  [['directory'], directoryIndex, 'directory'],
  [['connectors', ':name'], connectorPage, 'overview'],
  [['connectors', ':name', 'users'], usersPage, 'directory'],
  [['connectors', ':name', 'users', ':id'], userPage, 'directory'],
  [['connectors', ':name', 'groups'], groupsPage, 'directory'],
  [['connectors', ':name', 'groups', ':id'], groupPage, 'directory'],
];

/** Pages that show runs follow them live; directory pages stay still (a search box keeps its text). */
const LIVE_NAV = new Set(['overview', 'runs']);
function liveRender() {
  const m = match(parseHash().parts);
  if (m && LIVE_NAV.has(m.nav)) return render(true);
  return undefined;
}

function match(parts) {
  for (const [pattern, view, nav] of routes) {
    if (pattern.length !== parts.length) continue;
    const args = {};
    if (
      pattern.every((p, i) => (p.startsWith(':') ? ((args[p.slice(1)] = parts[i]), true) : p === parts[i]))
    ) {
      return { view, args, nav };
    }
  }
  return null;
}

let renderSeq = 0;
/** Renders the current route. `quiet` (live refresh) keeps focus and scroll. */
async function render(quiet = false) {
  const seq = ++renderSeq;
  const { parts, params } = parseHash();
  const m = match(parts);
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (m && a.dataset.nav === m.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const focusedId = document.activeElement?.id;
  let content;
  try {
    content = m
      ? await m.view(m.args, params)
      : [h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the overview'))];
  } catch (e) {
    content = [
      h('h1', {}, 'Something went wrong'),
      h('p', { class: 'error', role: 'alert' }, `${e.code ?? ''} ${e.message}`),
    ];
  }
  if (seq !== renderSeq) return; // a newer render won
  const scroll = window.scrollY;
  main.replaceChildren(
    ...[content].flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false),
  );
  if (quiet) {
    window.scrollTo(0, scroll);
    if (focusedId) document.getElementById(focusedId)?.focus();
  } else {
    document.getElementById('toast').hidden = true;
    main.querySelector('h1')?.setAttribute('tabindex', '-1');
    main.querySelector('h1')?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
  const title = main.querySelector('h1')?.textContent;
  document.title = title ? `${title} · Dirsync` : 'Dirsync';
}

// --- actions ----------------------------------------------------------------------------------

async function syncNow(name, fullResync = false) {
  try {
    const r = await api(`/api/connectors/${encodeURIComponent(name)}/sync`, {
      method: 'POST',
      body: { fullResync },
    });
    toast(
      r.state === 'joined'
        ? `A sync of ${name} was already queued or running; joined it.`
        : `${fullResync ? 'Full resync' : 'Sync'} of ${name} queued.`,
      'ok',
    );
  } catch (e) {
    toast(`Could not start a sync of ${name}: ${e.message}`, 'error');
  }
}

function syncButtons(c) {
  if (!session.queue) return h('span', { class: 'muted' }, 'No worker queue attached');
  return h(
    'span',
    { class: 'actions' },
    h(
      'button',
      { type: 'button', class: 'primary', id: `sync-${c.name}`, onclick: () => syncNow(c.name) },
      'Sync now',
    ),
    h(
      'button',
      { type: 'button', id: `resync-${c.name}`, onclick: () => syncNow(c.name, true) },
      'Full resync',
    ),
  );
}

function progressLine(run) {
  if (!run) return null;
  const p = run.progress ?? {};
  const read = p.read
    ? `read ${num(p.read.users)} users, ${num(p.read.groups)} groups, ${num(p.read.edges)} memberships`
    : null;
  const src = p.source
    ? `${p.source.phase} ${num(p.source.done)}${p.source.total ? ` of ${num(p.source.total)}` : ''}`
    : null;
  const pct = p.source?.total ? Math.min(100, Math.round((p.source.done / p.source.total) * 100)) : null;
  return h(
    'div',
    { class: 'progress', 'data-run': run.id },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }),
    h('strong', {}, `Run #${run.id}: ${run.phase}`),
    ' ',
    h('span', { class: 'muted' }, [read, src, `for ${duration(run.durationMs)}`].filter(Boolean).join(' · ')),
    pct !== null ? h('progress', { max: 100, value: pct, 'aria-label': 'progress' }, `${pct}%`) : null,
    ' ',
    h('a', { href: `#/runs/${run.id}` }, 'details'),
  );
}

// --- pages ------------------------------------------------------------------------------------

async function overview() {
  const [{ items }, recent] = await Promise.all([api('/api/connectors'), api('/api/runs?limit=8')]);
  connectors = items;
  const held = items.flatMap((c) => c.heldRuns.map((id) => ({ id, c })));
  return [
    h('h1', {}, 'Directories'),
    h(
      'p',
      { class: 'lede' },
      `Dirsync keeps ${items.length === 1 ? 'this directory' : `these ${items.length} directories`} in step with the identity providers. `,
      'Each row is one connector: its health, when it last ran, and what it holds.',
    ),
    held.length
      ? h(
          'div',
          { class: 'callout', role: 'alert' },
          h('strong', {}, 'Waiting for you: '),
          held.map(({ id, c }, i) => [
            i ? ', ' : '',
            h('a', { href: `#/runs/${id}` }, `run #${id} of ${c.name}`),
          ]),
          ' would remove more than the deletion guard allows. Review and approve or reject.',
        )
      : null,
    h(
      'div',
      { class: 'cards' },
      items.map((c) =>
        h(
          'section',
          { class: `card status-${c.status}`, 'aria-labelledby': `c-${c.name}` },
          h(
            'header',
            {},
            h(
              'h2',
              { id: `c-${c.name}` },
              h('a', { href: `#/connectors/${encodeURIComponent(c.name)}` }, c.title ?? c.name),
            ),
            badge(c.status),
          ),
          h('p', { class: 'muted' }, `${c.name} · ${c.kind} · ${c.schedule}`),
          directoryFigures(c),
          c.running
            ? progressLine(c.running)
            : h(
                'p',
                {},
                'Last run: ',
                c.lastRun
                  ? [
                      h('a', { href: `#/runs/${c.lastRun.id}` }, `#${c.lastRun.id}`),
                      ' ',
                      badge(c.lastRun.status),
                      c.lastRun.dryRun ? [' ', h('span', { class: 'tag' }, 'dry run')] : null,
                      ' ',
                      time(c.lastRun.startedAt),
                    ]
                  : 'never',
                h('br'),
                'Next run: ',
                c.nextRunAt
                  ? time(c.nextRunAt)
                  : c.schedule === 'manual only'
                    ? 'manual only'
                    : '— (no job scheduler yet: start a worker)',
              ),
          c.lastRun?.errorMessage && c.status === 'failing'
            ? h('p', { class: 'error' }, c.lastRun.errorMessage)
            : null,
          syncButtons(c),
        ),
      ),
    ),
    h('h2', {}, 'Recent runs'),
    runsTable(recent.items),
    h('p', {}, h('a', { href: '#/runs' }, 'All runs →')),
  ];
}

function runsTable(runs, { showConnector = true } = {}) {
  if (!runs.length) return h('p', { class: 'muted' }, 'No runs yet. Press “Sync now” to start one.');
  return h(
    'table',
    { class: 'grid' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Run'),
        showConnector ? h('th', { scope: 'col' }, 'Connector') : null,
        h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col' }, 'Trigger'),
        h('th', { scope: 'col' }, 'Started'),
        h('th', { scope: 'col', class: 'num' }, 'Duration'),
        h('th', { scope: 'col' }, 'Changes'),
      ),
    ),
    h(
      'tbody',
      {},
      runs.map((r) =>
        h(
          'tr',
          {},
          h('td', {}, h('a', { href: `#/runs/${r.id}` }, `#${r.id}`)),
          showConnector ? h('td', {}, r.connector) : null,
          h(
            'td',
            {},
            badge(r.status),
            r.dryRun ? h('span', { class: 'tag' }, 'dry run') : null,
            r.status === 'running' ? ` ${r.phase}` : null,
          ),
          h('td', {}, r.trigger),
          h('td', {}, time(r.startedAt)),
          h('td', { class: 'num' }, duration(r.durationMs)),
          h('td', {}, r.errorCode ? h('span', { class: 'error' }, r.errorCode) : summarize(r.counts)),
        ),
      ),
    ),
  );
}

function summarize(counts) {
  const t = totalChanges(counts);
  if (!t) return h('span', { class: 'muted' }, 'none');
  const parts = [];
  for (const [kind, ops] of Object.entries(counts ?? {})) {
    const n = Object.values(ops ?? {}).reduce((a, b) => a + (Number(b) || 0), 0);
    if (n) parts.push(`${num(n)} ${kind}`);
  }
  return parts.join(', ');
}

async function connectorPage({ name }, params) {
  const offset = Number(params.get('offset') ?? 0);
  const [c, runs] = await Promise.all([
    api(`/api/connectors/${encodeURIComponent(name)}`),
    api(`/api/runs${qs({ connector: name, limit: 15, offset })}`),
  ]);
  return [
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Overview'), ' / ', c.name),
    h('h1', {}, c.title ?? c.name, ' ', badge(c.status)),
    h(
      'p',
      { class: 'muted' },
      `${c.kind} connector · ${c.schedule} · next run: `,
      c.nextRunAt ? time(c.nextRunAt) : '—',
    ),
    syncButtons(c),
    c.running ? progressLine(c.running) : null,
    c.heldRuns.length
      ? h(
          'div',
          { class: 'callout' },
          'Held for approval: ',
          c.heldRuns.map((id, i) => [i ? ', ' : '', h('a', { href: `#/runs/${id}` }, `run #${id}`)]),
        )
      : null,
    c.configProblems
      ? h(
          'div',
          { class: 'callout' },
          'This connector cannot run as configured: ',
          h(
            'ul',
            {},
            c.configProblems.problems.map((p) => h('li', {}, `${p.path}: ${p.reason}`)),
          ),
        )
      : null,
    directoryFigures(c, h('div', {}, h('dt', {}, 'Last success'), h('dd', {}, time(c.lastSuccessAt)))),
    testConnectionPanel(c.name),
    h('h2', {}, 'Directory size over time'),
    sizeChart(c.trend),
    h('h2', {}, 'Changes per run'),
    changesChart(c.trend),
    h('h2', {}, 'Run history'),
    runsTable(runs.items, { showConnector: false }),
    pager(runs, (o) => go(`/connectors/${name}`, { offset: o })),
    h(
      'details',
      { class: 'config' },
      h('summary', {}, 'Configuration (secrets are shown as references, never values)'),
      h('pre', {}, JSON.stringify(c.config, null, 2)),
    ),
  ];
}

/** "Test connection": signs in to the IdP, reads a first page, says what is missing. */
function testConnectionPanel(name) {
  const out = h('div', { class: 'test-result', role: 'status', 'aria-live': 'polite' });
  const button = h(
    'button',
    {
      type: 'button',
      id: 'test-connection',
      onclick: async () => {
        button.disabled = true;
        out.replaceChildren(h('p', { class: 'muted' }, 'Testing the connection…'));
        try {
          const r = await api(`/api/connectors/${encodeURIComponent(name)}/test`, { method: 'POST' });
          out.replaceChildren(
            h(
              'div',
              { class: r.ok ? 'callout ok' : 'callout error' },
              h('strong', {}, r.ok ? 'Connection works' : 'Connection failed'),
              h(
                'ul',
                {},
                r.findings.map((f) => h('li', {}, f)),
              ),
              r.error ? h('p', { class: 'muted' }, r.error.code) : null,
            ),
          );
        } catch (e) {
          out.replaceChildren(h('p', { class: 'error' }, `Could not test: ${e.message}`));
        } finally {
          button.disabled = false;
        }
      },
    },
    'Test connection',
  );
  return h('section', { class: 'test-connection', 'aria-label': 'Test connection' }, button, out);
}

/** Every change that touched one user or group, newest first (the history API). */
async function historySection(name, type, id) {
  let hist;
  try {
    hist = await api(`/api/connectors/${encodeURIComponent(name)}/${type}/${encodeURIComponent(id)}/history`);
  } catch {
    return null;
  }
  const rows = hist.entries.map((e) => {
    let what;
    if (e.object === 'membership') {
      what = e.other
        ? [
            e.operation === 'add' ? 'joined ' : 'left ',
            h(
              'a',
              { href: `#/connectors/${name}/groups/${encodeURIComponent(e.other.externalId)}` },
              e.other.label ?? e.other.externalId,
            ),
          ]
        : `${e.operation === 'add' ? 'added' : 'removed'} ${num(e.members)} ${e.memberType ?? 'member'}${e.members === 1 ? '' : 's'}`;
    } else {
      what = [
        opBadge(e.operation),
        e.fields.length
          ? ` ${e.fields.map((f) => `${f.field}: ${fmt(f.before)} → ${fmt(f.after)}`).join(', ')}`
          : '',
      ];
    }
    return h(
      'tr',
      {},
      h('td', {}, time(e.at)),
      h('td', {}, h('a', { href: `#/runs/${e.runId}` }, `#${e.runId}`), ` ${e.trigger}`),
      h('td', {}, what, e.why ? h('div', { class: 'muted' }, e.why) : null),
    );
  });
  return [
    h('h2', {}, 'History'),
    hist.deletionDueAt
      ? h(
          'p',
          { class: 'callout' },
          'Left the identity provider; will be deleted ',
          time(hist.deletionDueAt),
          ` (${absolute(hist.deletionDueAt)}).`,
        )
      : null,
    hist.prunedBefore
      ? h(
          'p',
          { class: 'muted' },
          `Changes before ${absolute(hist.prunedBefore)} are no longer kept (changeLog.retention).`,
        )
      : null,
    rows.length
      ? gridTable(['When', 'Run', 'What happened'], rows)
      : h('p', { class: 'muted' }, hist.prunedBefore ? 'No recorded changes since.' : 'No recorded changes.'),
  ];
}

async function runsPage(_args, params) {
  const connector = params.get('connector') ?? '';
  const status = params.get('status') ?? '';
  const offset = Number(params.get('offset') ?? 0);
  if (!connectors.length) connectors = (await api('/api/connectors')).items;
  const page = await api(`/api/runs${qs({ connector, status, offset, limit: 25 })}`);
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (e) => {
        e.preventDefault();
        const f = new window.FormData(e.target);
        go('/runs', { connector: f.get('connector'), status: f.get('status') });
      },
    },
    h('label', { for: 'f-connector' }, 'Connector'),
    h(
      'select',
      { id: 'f-connector', name: 'connector' },
      h('option', { value: '' }, 'All'),
      connectors.map((c) => h('option', { value: c.name, selected: c.name === connector }, c.name)),
    ),
    h('label', { for: 'f-status' }, 'Status'),
    h(
      'select',
      { id: 'f-status', name: 'status' },
      h('option', { value: '' }, 'Any'),
      ['running', 'succeeded', 'failed', 'needs_approval', 'approved', 'rejected', 'superseded'].map((s) =>
        h('option', { value: s, selected: s === status }, s.replace('_', ' ')),
      ),
    ),
    h('button', { type: 'submit' }, 'Filter'),
  );
  return [
    h('h1', {}, 'Run history'),
    form,
    h('p', { class: 'muted' }, `${num(page.total)} runs`),
    runsTable(page.items),
    pager(page, (o) => go('/runs', { connector, status, offset: o })),
  ];
}

const PHASES = ['fetch', 'check', 'diff', 'record', 'apply'];

async function runPage({ id }, params) {
  const object = params.get('object') ?? '';
  const operation = params.get('operation') ?? '';
  const offset = Number(params.get('offset') ?? 0);
  const run = await api(`/api/runs/${encodeURIComponent(id)}`);
  const changes = await api(`/api/runs/${run.id}/changes${qs({ object, operation, offset, limit: 50 })}`);
  const held = run.status === 'needs_approval';
  const totalMs = Object.values(run.phaseMs).reduce((a, b) => a + b, 0) || 1;

  const act = async (action) => {
    const removals = (run.guard ?? []).map(
      (g) =>
        `${num(g.removals)} ${g.kind === 'group' ? `memberships of ${g.groupLabel ?? g.group}` : g.kind}`,
    );
    const by = await confirmDialog({
      title: action === 'approve' ? `Apply run #${run.id}?` : `Reject run #${run.id}?`,
      body:
        action === 'approve'
          ? `This applies exactly the changes listed on this page, including the removals the guard held (${removals.join(', ') || 'none'}). It cannot be undone by Dirsync.`
          : 'This discards the held changes; nothing is applied. The next run compares again.',
      confirmLabel: action === 'approve' ? 'Approve and apply' : 'Reject',
      danger: action === 'approve',
      askName: true,
    });
    if (!by) return;
    try {
      const r = await api(`/api/runs/${run.id}/${action}`, { method: 'POST', body: { by } });
      toast(`Run #${run.id} ${r.status}.`, 'ok');
    } catch (e) {
      toast(`Could not ${action} run #${run.id}: ${e.message}`, 'error');
    }
    await render(true);
    document.querySelector('h1')?.focus();
  };

  const filterLink = (label, o, op) => {
    const current = o === object && op === operation;
    return h(
      'a',
      {
        href: `#/runs/${run.id}${qs({ object: o, operation: op })}`,
        class: current ? 'chip current' : 'chip',
        'aria-current': current ? 'true' : null,
      },
      label,
    );
  };

  return [
    h(
      'p',
      { class: 'crumbs' },
      h('a', { href: '#/' }, 'Overview'),
      ' / ',
      h('a', { href: `#/connectors/${run.connector}` }, run.connector),
      ' / ',
      `run #${run.id}`,
    ),
    h(
      'h1',
      {},
      `Run #${run.id} `,
      badge(run.status),
      run.dryRun ? h('span', { class: 'tag' }, 'dry run') : null,
    ),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Connector'),
      h('dd', {}, h('a', { href: `#/connectors/${run.connector}` }, run.connector)),
      h('dt', {}, 'Trigger'),
      h('dd', {}, run.trigger, run.fullResync ? ' (full resync)' : ''),
      run.mode
        ? [h('dt', {}, 'Read'), h('dd', {}, run.mode, run.modeReason ? ` (${run.modeReason})` : '')]
        : null,
      h('dt', {}, 'Started'),
      h('dd', {}, absolute(run.startedAt), ' (', time(run.startedAt), ')'),
      h('dt', {}, 'Duration'),
      h('dd', {}, duration(run.durationMs)),
      h('dt', {}, 'Requests'),
      h('dd', {}, num(run.requests), run.throttled ? ` (${num(run.throttled)} throttled)` : ''),
      run.jobId
        ? [
            h('dt', {}, 'Job'),
            h(
              'dd',
              {},
              `${run.jobId}${run.attempt ? `, attempt ${run.attempt}` : ''}${run.worker ? ` on ${run.worker}` : ''}`,
            ),
          ]
        : null,
      run.resolvedBy
        ? [h('dt', {}, 'Resolved'), h('dd', {}, `${run.status} by ${run.resolvedBy} `, time(run.resolvedAt))]
        : null,
    ),
    run.status === 'running' ? progressLine(run) : null,
    run.errorMessage
      ? h(
          'p',
          { class: 'error', role: 'alert' },
          h('strong', {}, run.errorCode ?? 'Error'),
          ': ',
          run.errorMessage,
        )
      : null,
    run.guard?.length && !run.dryRun
      ? h(
          'section',
          { class: held ? 'callout held' : 'callout', 'aria-labelledby': 'held-h' },
          h(
            'h2',
            { id: 'held-h' },
            held
              ? 'Held by the deletion guard'
              : run.status === 'approved'
                ? 'Held by the deletion guard, then approved'
                : run.status === 'rejected'
                  ? 'Held by the deletion guard, then rejected'
                  : 'Deletion guard',
          ),
          h(
            'ul',
            {},
            (run.guard ?? []).map((g) =>
              h(
                'li',
                {},
                `${g.kind === 'group' ? `group ${g.groupLabel ?? g.group}` : g.kind}: ${num(g.removals)} removals of ${num(g.existing)} — ${g.rule}`,
              ),
            ),
          ),
          guardChart(run),
          removalsChart(run.removalsByGroup),
          held
            ? h('p', {}, 'Nothing was applied. Check the pending removals below, then:')
            : run.status === 'rejected'
              ? h('p', {}, `Rejected by ${run.resolvedBy ?? 'someone'}: nothing was applied.`)
              : h('p', {}, `Approved by ${run.resolvedBy ?? 'someone'}: the changes below were applied.`),
          held &&
            h(
              'p',
              { class: 'actions' },
              h(
                'button',
                { type: 'button', class: 'primary', id: 'approve', onclick: () => act('approve') },
                `Approve and apply run #${run.id}`,
              ),
              h(
                'button',
                { type: 'button', class: 'danger', id: 'reject', onclick: () => act('reject') },
                'Reject',
              ),
            ),
          h(
            'p',
            {},
            h(
              'a',
              { href: `#/runs/${run.id}${qs({ object: 'user', operation: 'delete' })}` },
              'Pending user deletions',
            ),
            ' · ',
            h(
              'a',
              { href: `#/runs/${run.id}${qs({ object: 'user', operation: 'deactivate' })}` },
              'deactivations',
            ),
            ' · ',
            h(
              'a',
              { href: `#/runs/${run.id}${qs({ object: 'membership', operation: 'remove' })}` },
              'membership removals',
            ),
            ' · ',
            h(
              'a',
              { href: `#/runs/${run.id}${qs({ object: 'group', operation: 'delete' })}` },
              'group deletions',
            ),
          ),
        )
      : null,
    h('h2', {}, 'Summary'),
    h(
      'div',
      { class: 'two' },
      h(
        'table',
        { class: 'grid' },
        h('caption', {}, 'Changes'),
        h(
          'tbody',
          {},
          ['users', 'groups', 'memberships'].map((k) =>
            h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, countsLine(run.counts[k]))),
          ),
        ),
      ),
      h(
        'div',
        {},
        h('p', { class: 'caption' }, 'Phase timings'),
        h(
          'ul',
          { class: 'phases' },
          PHASES.filter((p) => run.phaseMs[p] !== undefined).map((p) =>
            h(
              'li',
              {},
              h('span', { class: 'pname' }, p),
              h('span', {
                class: 'bar',
                style: { '--w': Math.max(1, Math.round((run.phaseMs[p] / totalMs) * 100)) },
              }),
              h('span', { class: 'pms' }, duration(run.phaseMs[p])),
            ),
          ),
        ),
        h('p', { class: 'muted' }, 'The IdP sent: ', snapshotLine(run.snapshot)),
      ),
    ),
    h(
      'h2',
      { id: 'changes' },
      held
        ? 'What this run would change'
        : run.dryRun
          ? 'What this dry run would change (nothing was applied)'
          : run.status === 'rejected'
            ? 'What this run would have changed (rejected: nothing was applied)'
            : run.status === 'failed'
              ? 'What changed (nothing: the run failed)'
              : 'What changed',
    ),
    changes.prunedAt
      ? null
      : h(
          'nav',
          { class: 'chips', 'aria-label': 'Filter changes' },
          filterLink(`All (${num(changes.summary.reduce((a, s) => a + s.count, 0))})`, '', ''),
          changes.summary.map((s) =>
            filterLink(`${s.object} ${s.operation} (${num(s.count)})`, s.object, s.operation),
          ),
        ),
    changes.prunedAt
      ? h(
          'p',
          { class: 'callout' },
          `This run's change detail was pruned on ${absolute(changes.prunedAt)} (older than changeLog.retention); its counts above still say how much changed.`,
        )
      : changesTable(changes.items, run.connector),
    pager(changes, (o) => go(`/runs/${run.id}`, { object, operation, offset: o })),
    run.problems.total
      ? [
          h('h2', {}, `Records held or skipped (${num(run.problems.total)})`),
          h(
            'table',
            { class: 'grid' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { scope: 'col' }, 'Object'),
                h('th', { scope: 'col' }, 'Id'),
                h('th', { scope: 'col' }, 'Action'),
                h('th', { scope: 'col' }, 'Reason'),
              ),
            ),
            h(
              'tbody',
              {},
              run.problems.items.map((p) =>
                h(
                  'tr',
                  {},
                  h('td', {}, p.object),
                  h('td', {}, p.externalId ?? '—'),
                  h('td', {}, p.action),
                  h('td', {}, p.reason),
                ),
              ),
            ),
          ),
        ]
      : null,
  ];
}

/** "7 users, 3 groups, 7 memberships; 1 filtered out; 2 held" from the run's snapshot figures. */
function snapshotLine(sn) {
  if (!sn || sn.users === undefined) return '—';
  const parts = [`${num(sn.users)} users, ${num(sn.groups)} groups, ${num(sn.edges)} memberships`];
  if (sn.filtered_users) parts.push(`${num(sn.filtered_users)} users filtered out`);
  const held = (sn.held_users ?? 0) + (sn.held_groups ?? 0) + (sn.held_edges ?? 0);
  if (held) parts.push(`${num(held)} records held`);
  if (sn.skipped_edges) parts.push(`${num(sn.skipped_edges)} memberships skipped`);
  return parts.join('; ');
}

function fmt(v) {
  if (v === null || v === undefined) return '∅';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function changesTable(items, connector) {
  if (!items.length) return h('p', { class: 'muted' }, 'No changes.');
  const link = (type, id, label) =>
    type === 'user' || type === 'group'
      ? h('a', { href: `#/connectors/${connector}/${type}s/${encodeURIComponent(id)}` }, label ?? id)
      : (label ?? id);
  return h(
    'table',
    { class: 'grid changes' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Change'),
        h('th', { scope: 'col' }, 'Object'),
        h('th', { scope: 'col' }, 'Details'),
      ),
    ),
    h(
      'tbody',
      {},
      items.map((c) => {
        let details = null;
        if (c.object === 'membership') {
          const more = c.memberCount - c.members.length;
          details = [
            `${c.operation === 'add' ? 'added' : 'removed'} ${num(c.memberCount)} ${c.memberType === 'group' ? 'subgroup' : 'user'}${c.memberCount === 1 ? '' : 's'}: `,
            c.members.map((m, i) => [i ? ', ' : '', link(c.memberType, m.externalId, m.label)]),
            more > 0 ? ` and ${num(more)} more` : '',
          ];
        } else if (c.fields && c.fields.length > 0) {
          details = h(
            'table',
            { class: 'diff' },
            h(
              'tbody',
              {},
              c.fields.map((f) =>
                h(
                  'tr',
                  {},
                  h('th', { scope: 'row' }, f.field),
                  h('td', { class: 'before' }, h('del', {}, fmt(f.before))),
                  h('td', { 'aria-hidden': 'true' }, '→'),
                  h('td', { class: 'after' }, h('ins', {}, fmt(f.after))),
                ),
              ),
            ),
          );
        }
        const type = c.object === 'membership' ? 'group' : c.object;
        return h(
          'tr',
          {},
          h('td', {}, opBadge(c.operation)),
          h(
            'td',
            {},
            h('span', { class: 'muted' }, `${c.object === 'membership' ? 'group' : c.object} `),
            link(type, c.externalId, c.label),
          ),
          h('td', {}, details),
        );
      }),
    ),
  );
}

async function directoryIndex() {
  const [{ items }, apps] = await Promise.all([api('/api/connectors'), api('/api/crowd/applications')]);
  connectors = items;
  return [
    h('h1', {}, 'Directory'),
    h('p', { class: 'lede' }, 'Users, groups and nested groups as applications read them, per connector.'),
    h(
      'ul',
      { class: 'plain' },
      items.map((c) =>
        h(
          'li',
          {},
          h('strong', {}, c.title ?? c.name),
          ' — ',
          h('a', { href: `#/connectors/${c.name}/users` }, `${num(c.users)} users`),
          ', ',
          h('a', { href: `#/connectors/${c.name}/groups` }, `${num(c.groups)} groups`),
        ),
      ),
    ),
    crowdApplications(apps),
  ];
}

/** The Atlassian applications reading the directories over the Crowd API (crowd.applications). */
function crowdApplications(apps) {
  return [
    h('h2', { id: 'crowd' }, 'Atlassian applications (Crowd API)'),
    apps.length === 0
      ? h(
          'p',
          { class: 'muted' },
          'No application is configured. Add crowd.applications to the config to let Jira or Confluence ',
          'use these directories as a “Crowd directory” (see the README, “Connect Jira / Confluence”).',
        )
      : gridTable(
          [
            'Application',
            'Directories, in precedence order',
            'Allowed addresses',
            'Last access',
            ['Requests', 'num'],
          ],
          apps.map((a) =>
            h(
              'tr',
              {},
              h('td', {}, h('strong', {}, a.name)),
              h(
                'td',
                {},
                a.directories.map((d, i) => [
                  i ? ' → ' : '',
                  h('a', { href: `#/connectors/${encodeURIComponent(d)}` }, d),
                ]),
              ),
              h('td', {}, a.allowedAddresses ? a.allowedAddresses.join(', ') : 'any'),
              h(
                'td',
                {},
                a.lastAccessAt
                  ? [time(a.lastAccessAt), a.lastAddress ? ` from ${a.lastAddress}` : '']
                  : 'never',
              ),
              h('td', { class: 'num' }, num(a.requests)),
            ),
          ),
        ),
  ];
}

function searchForm(path, q, label) {
  return h(
    'form',
    {
      role: 'search',
      class: 'filters',
      onsubmit: (e) => {
        e.preventDefault();
        go(path, { q: new window.FormData(e.target).get('q') });
      },
    },
    h('label', { for: 'q' }, label),
    h('input', { id: 'q', name: 'q', type: 'search', value: q, placeholder: 'name, email or id' }),
    h('button', { type: 'submit' }, 'Search'),
  );
}

function dirCrumbs(name, ...rest) {
  return h(
    'p',
    { class: 'crumbs' },
    h('a', { href: '#/directory' }, 'Directory'),
    ' / ',
    h('a', { href: `#/connectors/${name}` }, name),
    ...rest.flatMap((r) => [' / ', r]),
  );
}

/** A directory's size as a figures list (users and groups link to the browser), plus extra figures. */
function directoryFigures(c, ...extra) {
  const figure = (label, value) => h('div', {}, h('dt', {}, label), h('dd', {}, value));
  return h(
    'dl',
    { class: 'figures' },
    figure('Users', h('a', { href: `#/connectors/${c.name}/users` }, num(c.users))),
    figure('Active', num(c.activeUsers)),
    figure('Groups', h('a', { href: `#/connectors/${c.name}/groups` }, num(c.groups))),
    ...extra,
  );
}

/** A grid table: column headers (text, or [text, class]) and ready rows. */
function gridTable(headers, rows) {
  return h(
    'table',
    { class: 'grid' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((c) =>
          Array.isArray(c) ? h('th', { scope: 'col', class: c[1] }, c[0]) : h('th', { scope: 'col' }, c),
        ),
      ),
    ),
    h('tbody', {}, rows),
  );
}

/** What differs between the users and the groups list of a directory. */
const DIRECTORY_LISTS = {
  users: {
    title: 'Users',
    other: 'groups',
    find: 'Find a user',
    headers: ['Username', 'Name', 'Email', 'Status', 'Updated'],
    row: (name, u) =>
      h(
        'tr',
        {},
        h(
          'td',
          {},
          h('a', { href: `#/connectors/${name}/users/${encodeURIComponent(u.externalId)}` }, u.username),
        ),
        h('td', {}, u.displayName ?? '—'),
        h('td', {}, u.email ?? '—'),
        h('td', {}, u.active ? 'active' : h('span', { class: 'badge badge-failed' }, 'deactivated')),
        h('td', {}, time(u.updatedAt)),
      ),
  },
  groups: {
    title: 'Groups',
    other: 'users',
    find: 'Find a group',
    headers: ['Group', 'Description', ['Direct users', 'num'], ['Subgroups', 'num']],
    row: (name, g) =>
      h(
        'tr',
        {},
        h(
          'td',
          {},
          h('a', { href: `#/connectors/${name}/groups/${encodeURIComponent(g.externalId)}` }, g.name),
          g.local ? h('span', { class: 'tag' }, 'local') : null,
        ),
        h('td', {}, g.description ?? '—'),
        h('td', { class: 'num' }, num(g.directUsers)),
        h('td', { class: 'num' }, num(g.subgroups)),
      ),
  },
};

/** The users or the groups of a directory: search, count, a table and a pager. */
async function directoryListPage(kind, name, params) {
  const list = DIRECTORY_LISTS[kind];
  const q = params.get('q') ?? '';
  const offset = Number(params.get('offset') ?? 0);
  const page = await api(
    `/api/connectors/${encodeURIComponent(name)}/${kind}${qs({ q, offset, limit: 50 })}`,
  );
  return [
    dirCrumbs(name, kind),
    h('h1', {}, `${list.title} of ${name}`),
    h(
      'p',
      {},
      h('a', { href: `#/connectors/${name}/${list.other}` }, `${DIRECTORY_LISTS[list.other].title} →`),
    ),
    searchForm(`/connectors/${name}/${kind}`, q, list.find),
    h('p', { class: 'muted' }, `${num(page.total)} ${kind}${q ? ` matching “${q}”` : ''}`),
    page.items.length
      ? gridTable(
          list.headers,
          page.items.map((x) => list.row(name, x)),
        )
      : null,
    pager(page, (o) => go(`/connectors/${name}/${kind}`, { q, offset: o })),
  ];
}

function usersPage({ name }, params) {
  return directoryListPage('users', name, params);
}

function groupsPage({ name }, params) {
  return directoryListPage('groups', name, params);
}

/** A user's page: its record and groups, then its history across runs. */
async function userPage(args) {
  const [page, history] = await Promise.all([userDetails(args), historySection(args.name, 'users', args.id)]);
  return [page, history];
}

/** A group's page: its members, then its history across runs. */
async function groupPage(args, params) {
  const [page, history] = await Promise.all([
    groupDetails(args, params),
    historySection(args.name, 'groups', args.id),
  ]);
  return [page, history];
}

async function userDetails({ name, id }) {
  const u = await api(`/api/connectors/${encodeURIComponent(name)}/users/${encodeURIComponent(id)}`);
  const groupLink = (g) =>
    h('a', { href: `#/connectors/${name}/groups/${encodeURIComponent(g.externalId)}` }, g.name);
  return [
    dirCrumbs(name, h('a', { href: `#/connectors/${name}/users` }, 'users'), u.username),
    h(
      'h1',
      {},
      u.displayName ?? u.username,
      ' ',
      u.active ? null : h('span', { class: 'badge badge-failed' }, 'deactivated'),
    ),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Username'),
      h('dd', {}, u.username),
      h('dt', {}, 'Email'),
      h('dd', {}, u.email ?? '—'),
      h('dt', {}, 'IdP id'),
      h('dd', {}, h('code', {}, u.externalId)),
      h('dt', {}, 'Given / family name'),
      h('dd', {}, `${u.givenName ?? '—'} / ${u.familyName ?? '—'}`),
      h('dt', {}, 'Created'),
      h('dd', {}, time(u.createdAt)),
      h('dt', {}, 'Updated'),
      h('dd', {}, time(u.updatedAt)),
      u.missingSince ? [h('dt', {}, 'Missing from the IdP since'), h('dd', {}, time(u.missingSince))] : null,
    ),
    h('h2', {}, `Groups (${u.groups.direct.length} direct, ${u.groups.effective.length} effective)`),
    u.groups.effective.length
      ? h(
          'ul',
          { class: 'plain groups' },
          u.groups.effective.map((g) =>
            h(
              'li',
              {},
              groupLink(g),
              ' ',
              g.direct
                ? h('span', { class: 'tag' }, 'direct')
                : h('span', { class: 'tag muted' }, 'through a subgroup'),
              g.local ? h('span', { class: 'tag' }, 'local') : null,
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'In no group.'),
    Object.keys(u.attributes).length
      ? [h('h2', {}, 'Attributes'), h('pre', {}, JSON.stringify(u.attributes, null, 2))]
      : null,
  ];
}

async function groupDetails({ name, id }, params) {
  const effective = params.get('effective') === 'true';
  const offset = Number(params.get('offset') ?? 0);
  const g = await api(
    `/api/connectors/${encodeURIComponent(name)}/groups/${encodeURIComponent(id)}${qs({ effective, offset, limit: 50 })}`,
  );
  const base = `/connectors/${name}/groups/${encodeURIComponent(id)}`;
  const gl = (x) =>
    h('a', { href: `#/connectors/${name}/groups/${encodeURIComponent(x.externalId)}` }, x.name);
  return [
    dirCrumbs(name, h('a', { href: `#/connectors/${name}/groups` }, 'groups'), g.name),
    h('h1', {}, g.name, g.local ? h('span', { class: 'tag' }, 'local') : null),
    g.description ? h('p', { class: 'lede' }, g.description) : null,
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'IdP id'),
      h('dd', {}, h('code', {}, g.externalId)),
      h('dt', {}, 'Member of'),
      h('dd', {}, g.parents.length ? g.parents.map((p, i) => [i ? ', ' : '', gl(p)]) : '—'),
      h('dt', {}, 'Subgroups'),
      h('dd', {}, g.subgroups.length ? g.subgroups.map((p, i) => [i ? ', ' : '', gl(p)]) : '—'),
      h('dt', {}, 'Effective users'),
      h('dd', {}, num(g.effectiveUsers)),
    ),
    h('h2', {}, effective ? 'All users, through subgroups too' : 'Direct members'),
    h(
      'nav',
      { class: 'chips', 'aria-label': 'Members' },
      h(
        'a',
        {
          href: `#${base}`,
          class: effective ? 'chip' : 'chip current',
          'aria-current': effective ? null : 'true',
        },
        'Direct',
      ),
      h(
        'a',
        {
          href: `#${base}?effective=true`,
          class: effective ? 'chip current' : 'chip',
          'aria-current': effective ? 'true' : null,
        },
        'Effective',
      ),
    ),
    g.members.items.length
      ? h(
          'ul',
          { class: 'plain' },
          g.members.items.map((u) =>
            h(
              'li',
              {},
              h('a', { href: `#/connectors/${name}/users/${encodeURIComponent(u.externalId)}` }, u.username),
              u.displayName ? ` — ${u.displayName}` : '',
              u.active ? '' : ' (deactivated)',
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'No users.'),
    pager(g.members, (o) => go(base, { effective, offset: o })),
  ];
}

// --- live -------------------------------------------------------------------------------------

function live() {
  const el = document.getElementById('live');
  let lastFingerprint = null;
  const es = new window.EventSource('/api/events');
  es.addEventListener('runs', (e) => {
    const data = JSON.parse(e.data);
    const running = data.runs.filter((r) => r.status === 'running');
    const held = data.runs.filter((r) => r.status === 'needs_approval');
    el.textContent =
      (running.length ? `● ${running.map((r) => `${r.connector}: ${r.phase}`).join(', ')}` : 'Idle') +
      (held.length ? ` · ${held.length} held for approval` : '');
    el.classList.toggle('busy', running.length > 0);
    const fp = JSON.stringify(data.runs.map((r) => [r.id, r.status, r.phase, r.progress]));
    if (lastFingerprint !== null && fp !== lastFingerprint) void liveRender();
    lastFingerprint = fp;
  });
  es.addEventListener('job', (e) => {
    const d = JSON.parse(e.data);
    if (d.event === 'completed' || d.event === 'failed') void liveRender();
  });
  es.onerror = () => {
    el.textContent = 'Live updates paused (reconnecting)…';
  };
}

async function boot() {
  const s = await api('/api/session');
  setCsrf(s.csrfToken);
  Object.assign(session, s);
  if (s.bullBoard) document.querySelector('[data-nav="queue"]').hidden = false;
  window.addEventListener('hashchange', () => void render());
  await render();
  live();
  // "14 s ago" must not stay "14 s ago": every relative time is rewritten as time passes.
  window.setInterval(() => refreshTimes(), 10_000);
}

void boot();
