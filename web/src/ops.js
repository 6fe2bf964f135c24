// ops.js — the operations view: counts, provider health and durations from
// ops-jobs, dead-lettered runs from orchestrator?action=status with a retry
// button (orchestrator?action=retry_failed, service key), recent errors with
// their codes, and the newest runs (GET functions/v1/runs). Refreshed every
// few seconds while the view is shown, and soon after job_runs events.
import { api, ApiError } from './api.js';
import { $, el, fmtTime, fmtSlice, fmtDuration, fmtPercent, throttle } from './util.js';

const REFRESH_MS = 3000;
const RECENT_ERROR_MS = 15 * 60 * 1000; // an error this recent makes a provider "degraded"
const DEAD_SHOWN = 20; // dead-lettered runs listed (all are retried)

function series(r) {
  return `${r.symbol} ${r.timeframe}`;
}

function cell(text, cls) {
  return el('td', cls ? { class: cls } : {}, text === null || text === undefined || text === '' ? '–' : text);
}

function fillTable(id, rows, empty, columns) {
  const body = $(id).tBodies[0];
  if (!rows.length) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: columns, class: 'empty' }, empty)));
    return;
  }
  body.replaceChildren(...rows);
}

// healthy | degraded | failing: the circuit breaker first (provider_health,
// this process's view), else the window's outcomes and recent errors.
export function providerHealth(p, h, errors, now) {
  if (h && h.breaker === 'open') return 'failing';
  if (h && h.breaker === 'half_open') return 'degraded';
  if (!p) return h && h.errors > 0 ? 'degraded' : 'healthy';
  const recent = errors.filter((e) => e.provider === p.provider && now - Date.parse(e.updated_at) < RECENT_ERROR_MS);
  if (p.success_rate !== null && p.success_rate < 80 && p.failed_runs > 0) return 'failing';
  if ((p.success_rate !== null && p.success_rate < 98) || recent.length) return 'degraded';
  return 'healthy';
}

export class Ops {
  constructor({ onRetried }) {
    this.onRetried = onRetried;
    this.timer = null;
    this.visible = false;
    this.loads = 0;
    this.soon = throttle(() => this.refresh(), 1000);
    $('retry-button').addEventListener('click', () => this.retry());
  }

  start() {
    this.visible = true;
    this.refresh();
  }

  stop() {
    this.visible = false;
    clearTimeout(this.timer);
    this.soon.cancel();
  }

  poke() {
    if (this.visible) this.soon();
  }

  async refresh() {
    clearTimeout(this.timer);
    if (!this.visible) return;
    try {
      const [jobs, status, runs] = await Promise.all([
        api('functions/v1/ops-jobs?hours=24'),
        api('functions/v1/orchestrator?action=status', { method: 'POST' }),
        api('functions/v1/runs?limit=50'),
      ]);
      this.render(jobs, status, runs.runs);
      this.loads++;
      $('ops-updated').textContent = `updated ${fmtTime(jobs.timestamp)}`;
    } catch (e) {
      $('ops-updated').textContent = `could not refresh (${e.code || 'error'}: ${e.message})`;
    }
    if (this.visible) this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
  }

  render(jobs, status, runs) {
    const s = jobs.stats;
    const now = Date.parse(jobs.timestamp);
    const card = (label, value, cls) =>
      el(
        'div',
        { class: `card${cls ? ` ${cls}` : ''}` },
        el('span', { class: 'v' }, value),
        el('span', { class: 'l' }, label),
      );
    $('ops-cards').replaceChildren(
      card('runs', String(s.total)),
      card('success rate', fmtPercent(s.success_rate), s.success_rate !== null && s.success_rate < 98 ? 'warn' : ''),
      card('running', String(s.running)),
      card('queue depth', String(jobs.queue_depth)),
      card('dead-lettered', String(jobs.dead_letter), jobs.dead_letter ? 'bad' : ''),
    );
    this.renderProviders(jobs, now);
    this.renderDead(status.failed_jobs, status.dead_letter);
    fillTable(
      'ops-errors',
      jobs.recent_errors.map((e) =>
        el(
          'tr',
          {},
          cell(fmtTime(e.updated_at)),
          cell(series(e)),
          cell(e.status, `st-${e.status}`),
          cell(e.error_code, 'code'),
          cell(e.error_message, 'msg'),
          cell(String(e.attempt), 'num'),
        ),
      ),
      'No errors in the window.',
      6,
    );
    fillTable(
      'ops-runs',
      runs.map((r) =>
        el(
          'tr',
          {},
          cell(fmtTime(r.created_at)),
          cell(series(r)),
          cell(fmtSlice(r.slice_from, r.slice_to)),
          cell(r.status === 'running' ? `running ${Math.round(r.progress_percent)}%` : r.status, `st-${r.status}`),
          cell(r.provider),
          cell(fmtDuration(r), 'num'),
          cell(String(r.rows_written), 'num'),
          cell(String(r.attempt), 'num'),
          cell(r.error_code, 'code'),
        ),
      ),
      'No runs yet.',
      9,
    );
  }

  // One row per provider configured (provider_health) or seen in the window
  // (provider_stats).
  renderProviders(jobs, now) {
    const health = jobs.provider_health || [];
    const stats = jobs.provider_stats || [];
    const names = [...new Set([...health.map((h) => h.provider), ...stats.map((p) => p.provider)])];
    fillTable(
      'ops-providers',
      names.map((name) => {
        const p = stats.find((x) => x.provider === name);
        const h = health.find((x) => x.provider === name);
        const state = providerHealth(p, h, jobs.recent_errors, now);
        const last = jobs.recent_errors.find((e) => e.provider === name);
        const breaker = h && h.breaker !== 'closed' ? ` · breaker ${h.breaker.replace('_', '-')}` : '';
        return el(
          'tr',
          {},
          cell(name),
          el('td', {}, el('span', { class: `badge h-${state}` }, state), breaker),
          cell(p ? fmtPercent(p.success_rate) : '', 'num'),
          cell(p ? `${p.success_runs} / ${p.failed_runs}` : '', 'num'),
          cell(p ? `${p.p50_duration_ms} / ${p.p95_duration_ms}` : '', 'num'),
          cell(p ? String(p.total_rows) : '', 'num'),
          cell(last ? `${last.error_code} (${fmtTime(last.updated_at)})` : ''),
        );
      }),
      'No provider has answered in the window.',
      7,
    );
  }

  renderDead(failed, total) {
    $('retry-button').disabled = failed.length === 0;
    const rows = failed
      .slice(0, DEAD_SHOWN)
      .map((r) =>
        el(
          'tr',
          {},
          cell(fmtTime(r.updated_at)),
          cell(series(r)),
          cell(fmtSlice(r.slice_from, r.slice_to)),
          cell(String(r.attempt), 'num'),
          cell(r.error_code, 'code'),
          cell(r.error_message, 'msg'),
        ),
      );
    if (total > rows.length)
      rows.push(el('tr', {}, el('td', { colspan: 6, class: 'empty' }, `… and ${total - rows.length} more`)));
    fillTable('ops-dead', rows, 'No dead-lettered runs.', 6);
  }

  async retry() {
    const out = $('retry-result');
    $('retry-button').disabled = true;
    try {
      const res = await api('functions/v1/orchestrator?action=retry_failed', { method: 'POST' });
      out.textContent = `${res.retried} run${res.retried === 1 ? '' : 's'} put back in the queue.`;
      this.onRetried();
    } catch (e) {
      out.textContent =
        e instanceof ApiError && e.code === 'forbidden'
          ? 'Retrying needs the service key.'
          : `Retry failed (${e.code || 'error'}: ${e.message}).`;
    }
    this.refresh();
  }
}
