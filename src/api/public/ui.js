/* global document, window, fetch, URLSearchParams, setTimeout, clearTimeout */
/**
 * Small DOM helpers for the dashboard. Everything is built with createElement/textContent, never
 * innerHTML, so no value from the directory (a display name, an attribute) can become markup.
 */

/** h('a', { href: '#/' }, 'text', child, [more]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'class') el.className = v;
    // Through the CSSOM: the page's CSP forbids style attributes in markup.
    else if (k === 'style' && typeof v === 'object')
      for (const [p, pv] of Object.entries(v)) el.style.setProperty(p, String(pv));
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof window.Node ? c : document.createTextNode(String(c)));
  }
}

const SVG = 'http://www.w3.org/2000/svg';
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

// --- formatting -----------------------------------------------------------------------------

export function ago(iso) {
  if (!iso) return '—';
  const sec = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  const fut = sec < 0;
  const a = Math.abs(sec);
  const t =
    a < 45
      ? `${a} s`
      : a < 3600
        ? `${Math.round(a / 60)} min`
        : a < 86400
          ? `${Math.round(a / 3600)} h`
          : `${Math.round(a / 86400)} d`;
  return fut ? `in ${t}` : `${t} ago`;
}

/** A date and time with its zone, as every absolute time on the dashboard is shown. */
export function absolute(iso) {
  return new Date(iso).toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  });
}

/** A relative time ("14 s ago") that stays current: `refreshTimes` rewrites it every few seconds. */
export function time(iso) {
  if (!iso) return '—';
  return h('time', { datetime: iso, title: absolute(iso), 'data-ago': '' }, ago(iso));
}

/** Rewrites every relative time on the page; the app calls it on a timer. */
export function refreshTimes(root = document) {
  for (const t of root.querySelectorAll('time[data-ago]')) {
    const text = ago(t.getAttribute('datetime'));
    if (t.textContent !== text) t.textContent = text;
  }
}

/**
 * A confirmation in a modal dialog. With `askName`, it asks who is acting (remembered in this
 * browser) and resolves to that name; resolves to null when cancelled.
 */
export function confirmDialog({ title, body, confirmLabel, danger = false, askName = false }) {
  return new Promise((resolve) => {
    const saved = window.localStorage?.getItem('dirsync.actor') ?? '';
    const input = askName
      ? h('input', {
          id: 'confirm-name',
          name: 'name',
          required: true,
          maxlength: 100,
          value: saved,
          autocomplete: 'name',
        })
      : null;
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': 'confirm-title' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'confirm-title' }, title),
        h('p', {}, body),
        input
          ? h('p', {}, h('label', { for: 'confirm-name' }, 'Your name (recorded on the run)'), h('br'), input)
          : null,
        h(
          'p',
          { class: 'actions' },
          h(
            'button',
            { type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary', id: 'confirm-ok' },
            confirmLabel,
          ),
          h(
            'button',
            { type: 'submit', value: 'cancel', formnovalidate: true, id: 'confirm-cancel' },
            'Cancel',
          ),
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      const ok = dialog.returnValue === 'ok';
      const name = input ? input.value.trim() : '';
      if (ok && name) window.localStorage?.setItem('dirsync.actor', name);
      dialog.remove();
      resolve(ok ? name || true : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    (input ?? dialog.querySelector('#confirm-cancel'))?.focus();
  });
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export const num = (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en'));

const STATUS_LABEL = {
  healthy: 'Healthy',
  failing: 'Failing',
  running: 'Running',
  needs_approval: 'Needs approval',
  never_run: 'Never run',
  succeeded: 'Succeeded',
  failed: 'Failed',
  approved: 'Approved',
  rejected: 'Rejected',
};

export function badge(status) {
  return h('span', { class: `badge badge-${status}` }, STATUS_LABEL[status] ?? status);
}

export function opBadge(op) {
  return h('span', { class: `op op-${op}` }, op);
}

/** Total changes of a run's counts `{users: {create: n}, ...}`. */
export function totalChanges(counts) {
  let t = 0;
  for (const ops of Object.values(counts ?? {}))
    for (const n of Object.values(ops ?? {})) t += Number(n) || 0;
  return t;
}

/** "3 created, 1 deactivated" for one object kind. */
export function countsLine(ops) {
  const words = {
    create: 'created',
    update: 'updated',
    deactivate: 'deactivated',
    reactivate: 'reactivated',
    delete: 'deleted',
    add: 'added',
    remove: 'removed',
  };
  const parts = Object.entries(ops ?? {})
    .filter(([, n]) => Number(n) > 0)
    .map(([op, n]) => `${num(n)} ${words[op] ?? op}`);
  return parts.length ? parts.join(', ') : 'no changes';
}

// --- API --------------------------------------------------------------------------------------

let csrf = null;
export function setCsrf(token) {
  csrf = token;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    if (csrf) headers['x-csrf-token'] = csrf;
  }
  const res = await fetch(path, {
    method,
    headers,
    body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
  });
  if (res.status === 401) {
    window.location.href = '/login';
    throw new ApiError(401, 'UNAUTHORIZED', 'signed out');
  }
  const data = await res.json().catch(() => null);
  if (!res.ok)
    throw new ApiError(res.status, data?.error?.code ?? 'ERROR', data?.error?.message ?? res.statusText);
  return data;
}

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const t = p.toString();
  return t ? `?${t}` : '';
}

export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  el.textContent = message;
  el.className = `toast toast-${kind}`;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 6000);
}

/** Paging controls for a `{ total, limit, offset }` page. */
export function pager(page, go) {
  const { total, limit, offset } = page;
  if (total <= limit) return null;
  const from = offset + 1;
  const to = Math.min(offset + limit, total);
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    h(
      'button',
      { type: 'button', disabled: offset === 0, onclick: () => go(Math.max(0, offset - limit)) },
      '← Previous',
    ),
    h('span', {}, `${num(from)}–${num(to)} of ${num(total)}`),
    h('button', { type: 'button', disabled: to >= total, onclick: () => go(offset + limit) }, 'Next →'),
  );
}
