/* global document */
/** A small inline-SVG chart: run durations as bars, changes per run as a line with dots. */
import { duration, h, num, s } from './ui.js';

export function chart(trend) {
  if (!trend?.length) return h('p', { class: 'muted' }, 'No finished runs yet.');
  const W = 640;
  const H = 160;
  const pad = { l: 56, r: 48, t: 12, b: 24 };
  const iw = W - pad.l - pad.r;
  const ih = H - pad.t - pad.b;
  const maxD = Math.max(1, ...trend.map((t) => t.durationMs ?? 0));
  const maxC = Math.max(1, ...trend.map((t) => t.changes));
  const step = iw / trend.length;
  const bw = Math.max(2, Math.min(24, step * 0.6));
  const x = (i) => pad.l + step * i + step / 2;
  const yD = (v) => pad.t + ih - (v / maxD) * ih;
  const yC = (v) => pad.t + ih - (v / maxC) * ih;

  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-labelledby': 'chart-t chart-d',
    class: 'chart',
  });
  svg.append(
    s('title', { id: 'chart-t' }, 'Run durations and changes'),
    s(
      'desc',
      { id: 'chart-d' },
      `Last ${trend.length} runs. Longest ${duration(maxD)}; most changes in one run ${num(maxC)}.`,
    ),
    s('line', { x1: pad.l, y1: pad.t + ih, x2: W - pad.r, y2: pad.t + ih, class: 'axis' }),
    s('text', { x: pad.l - 6, y: pad.t + 8, class: 'lbl', 'text-anchor': 'end' }, duration(maxD)),
    s('text', { x: pad.l - 6, y: pad.t + ih, class: 'lbl', 'text-anchor': 'end' }, '0'),
    s('text', { x: W - pad.r + 6, y: pad.t + 8, class: 'lbl chg' }, `${num(maxC)} chg`),
  );
  trend.forEach((t, i) => {
    const d = t.durationMs ?? 0;
    const bar = s('rect', {
      x: x(i) - bw / 2,
      y: yD(d),
      width: bw,
      height: Math.max(1, pad.t + ih - yD(d)),
      class: `bar-${t.status}`,
    });
    bar.append(
      s('title', {}, `Run #${t.id} (${t.status}): ${duration(t.durationMs)}, ${num(t.changes)} changes`),
    );
    svg.append(bar);
  });
  const pts = trend.map((t, i) => `${x(i)},${yC(t.changes)}`).join(' ');
  svg.append(s('polyline', { points: pts, class: 'changes-line' }));
  trend.forEach((t, i) =>
    svg.append(s('circle', { cx: x(i), cy: yC(t.changes), r: 3, class: 'changes-dot' })),
  );
  const legend = h(
    'p',
    { class: 'legend muted' },
    h('span', { class: 'key key-bar' }),
    ' duration (bar colour = status) ',
    h('span', { class: 'key key-line' }),
    ' changes per run',
  );
  const wrap = document.createElement('figure');
  wrap.className = 'chart-wrap';
  wrap.append(svg, legend);
  return wrap;
}
