/* global Chart, setTimeout */
/**
 * The dashboard's charts, drawn with Chart.js (loaded as /assets/chart.umd.min.js, the npm
 * package's own bundle): the directory's size over time, changes per run stacked by operation, and
 * for a guarded run the headroom per limit and its removals per group. Every chart has a text
 * alternative (a caption and an accessible description) for people who do not see it.
 */
import { h, num } from './ui.js';

const OP_COLORS = {
  create: '#2e7d32',
  add: '#66bb6a',
  update: '#1565c0',
  reactivate: '#00838f',
  deactivate: '#ef6c00',
  remove: '#e57373',
  delete: '#c62828',
};
const SERIES = { users: '#1565c0', active: '#2e7d32', groups: '#8e24aa' };

function when(iso) {
  const d = new Date(iso);
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`;
}

/** A canvas in a figure; the chart is created once the canvas is in the page. */
function figure(id, caption, description, config) {
  const canvas = h('canvas', { id, role: 'img', 'aria-label': description });
  const fig = h(
    'figure',
    { class: 'chart' },
    h('div', { class: 'chart-box' }, canvas),
    h('figcaption', {}, caption),
  );
  // The page is built before it is attached; draw once the canvas is in the document.
  let tries = 0;
  const draw = () => {
    if (!canvas.isConnected || typeof Chart === 'undefined') {
      if (tries++ < 40) setTimeout(draw, 50);
      return;
    }
    Chart.getChart(canvas)?.destroy();
    new Chart(canvas, {
      ...config,
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
        ...config.options,
      },
    });
  };
  setTimeout(draw, 0);
  return fig;
}

/** Users, active users and groups after each run, oldest left. */
export function sizeChart(trend) {
  const points = (trend ?? []).filter((t) => t.figures);
  if (points.length < 2) return h('p', { class: 'muted' }, 'The size chart appears after two runs.');
  const last = points.at(-1).figures;
  return figure(
    'size-chart',
    `Directory size after each run. Now: ${num(last.users)} users (${num(last.active)} active), ${num(last.groups)} groups.`,
    `Line chart of users, active users and groups over the last ${points.length} runs`,
    {
      type: 'line',
      data: {
        labels: points.map((t) => when(t.startedAt)),
        datasets: ['users', 'active', 'groups'].map((k) => ({
          label: k,
          data: points.map((t) => t.figures[k]),
          borderColor: SERIES[k],
          backgroundColor: SERIES[k],
          pointRadius: 2,
          tension: 0.1,
        })),
      },
      options: {
        scales: {
          x: { title: { display: true, text: 'run started' }, ticks: { maxRotation: 0, autoSkip: true } },
          y: { beginAtZero: true, title: { display: true, text: 'count' } },
        },
      },
    },
  );
}

/**
 * Changes per run, stacked by operation. A first sync (or any run far above the rest) would flatten
 * every later bar, so the axis stops at three times the next largest run and the clipped runs are
 * named in the caption with their real totals.
 */
export function changesChart(trend) {
  const runs = trend ?? [];
  if (runs.length === 0) return h('p', { class: 'muted' }, 'No finished runs yet.');
  const ops = Object.keys(OP_COLORS).filter((op) => runs.some((t) => (t.byOperation?.[op] ?? 0) > 0));
  const totals = runs.map((t) => t.changes);
  const sorted = [...totals].sort((a, b) => b - a);
  const cap =
    sorted.length > 1 && sorted[0] > 3 * Math.max(1, sorted[1]) ? 3 * Math.max(1, sorted[1]) : undefined;
  const clipped = cap === undefined ? [] : runs.filter((t) => t.changes > cap);
  const note = clipped.length
    ? ` Clipped: ${clipped.map((t) => `run #${t.id} (${num(t.changes)} changes)`).join(', ')}.`
    : '';
  return figure(
    'changes-chart',
    `Changes per run by operation; dry runs are marked "dry" and applied nothing.${note}`,
    `Stacked bar chart of changes per run over the last ${runs.length} runs`,
    {
      type: 'bar',
      data: {
        labels: runs.map((t) => `#${t.id}${t.dryRun ? ' dry' : ''}`),
        datasets: ops.map((op) => ({
          label: op,
          data: runs.map((t) => t.byOperation?.[op] ?? 0),
          backgroundColor: OP_COLORS[op],
        })),
      },
      options: {
        scales: {
          x: {
            stacked: true,
            title: { display: true, text: 'run' },
            ticks: { maxRotation: 0, autoSkip: true },
          },
          y: {
            stacked: true,
            beginAtZero: true,
            ...(cap ? { max: cap } : {}),
            title: { display: true, text: 'changes' },
          },
        },
      },
    },
  );
}

/** For a guarded run: each tripped limit's removals against what the guard allows. */
export function guardChart(run) {
  const trips = (run.guard ?? []).filter((g) => g.kind !== 'empty');
  if (trips.length === 0) return null;
  const label = (g) => (g.kind === 'group' ? `group ${g.groupLabel ?? g.group}` : g.kind);
  return figure(
    'guard-chart',
    `Removals against the guard's limits: ${trips
      .map(
        (g) =>
          `${label(g)} ${num(g.removals)}${g.allowed !== undefined ? ` of ${num(g.allowed)} allowed` : ''}`,
      )
      .join('; ')}.`,
    'Bar chart of removals against the allowed removals for each tripped limit',
    {
      type: 'bar',
      data: {
        labels: trips.map(label),
        datasets: [
          { label: 'removals', data: trips.map((g) => g.removals), backgroundColor: '#c62828' },
          { label: 'allowed', data: trips.map((g) => g.allowed ?? null), backgroundColor: '#90a4ae' },
        ],
      },
      options: {
        indexAxis: 'y',
        scales: { x: { beginAtZero: true, title: { display: true, text: 'objects' } } },
      },
    },
  );
}

/** A guarded run's membership removals per group, largest first. */
export function removalsChart(groups) {
  if (!groups?.length) return null;
  return figure(
    'removals-chart',
    `Memberships this run removes, per group (largest ${groups.length}).`,
    'Bar chart of membership removals per group',
    {
      type: 'bar',
      data: {
        labels: groups.map((g) => g.label ?? g.externalId),
        datasets: [
          { label: 'removed', data: groups.map((g) => g.removals), backgroundColor: '#e57373' },
          { label: 'members now', data: groups.map((g) => g.members), backgroundColor: '#90a4ae' },
        ],
      },
      options: { indexAxis: 'y', scales: { x: { beginAtZero: true } } },
    },
  );
}
