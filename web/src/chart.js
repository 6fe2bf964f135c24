// chart.js — the candlestick and volume chart, drawn by TradingView's
// lightweight-charts (pinned in web/package-lock.json, embedded by the build).
// Bars come from chart-data-v2 and replace the series on each refresh; the
// view is fitted to the bars until the user pans or zooms, after which the
// visible time range is kept across refreshes. Keyboard: arrows pan, + and -
// zoom, Home fits everything.
import { createChart, CandlestickSeries, HistogramSeries, ColorType } from './lightweight-charts.mjs';

const UP = '#1a9e6e';
const DOWN = '#d64545';

function palette() {
  const dark = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches;
  return dark
    ? { text: '#c9d1d9', grid: 'rgba(201,209,217,0.08)', border: '#30363d' }
    : { text: '#1f2933', grid: 'rgba(31,41,51,0.07)', border: '#d0d7de' };
}

export class BarChart {
  constructor(el) {
    const p = palette();
    this.el = el;
    this.userMoved = false;
    this.bars = [];
    this.chart = createChart(el, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: 'transparent' }, textColor: p.text },
      grid: { vertLines: { color: p.grid }, horzLines: { color: p.grid } },
      rightPriceScale: { borderColor: p.border, scaleMargins: { top: 0.08, bottom: 0.3 } },
      timeScale: { borderColor: p.border, timeVisible: true, secondsVisible: false },
      localization: { locale: 'en-US' },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      wickUpColor: UP,
      wickDownColor: DOWN,
      borderVisible: false,
    });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceFormat: { type: 'volume' },
      priceScaleId: 'volume',
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.76, bottom: 0 } });
    const moved = () => (this.userMoved = true);
    el.addEventListener('wheel', moved, { passive: true });
    el.addEventListener('pointerdown', moved);
    el.addEventListener('keydown', (e) => this.onKey(e));
  }

  // Replace the bars (chart-data-v2 bar objects, oldest first).
  setBars(bars) {
    const ts = this.chart.timeScale();
    const keep = this.userMoved && this.bars.length ? ts.getVisibleRange() : null;
    const candles = [];
    const volume = [];
    for (const b of bars) {
      const time = Math.floor(Date.parse(b.ts) / 1000);
      candles.push({ time, open: b.open, high: b.high, low: b.low, close: b.close });
      volume.push({
        time,
        value: b.volume,
        color: b.close >= b.open ? 'rgba(26,158,110,0.45)' : 'rgba(214,69,69,0.45)',
      });
    }
    this.candles.setData(candles);
    this.volume.setData(volume);
    this.bars = bars;
    if (keep) ts.setVisibleRange(keep);
    else if (bars.length) ts.fitContent();
  }

  // A new series: forget the bars and the user's view.
  reset() {
    this.userMoved = false;
    this.setBars([]);
  }

  // What the chart holds, read back from the library (for tests and debugging).
  data() {
    return this.candles.data();
  }

  onKey(e) {
    const ts = this.chart.timeScale();
    const range = ts.getVisibleLogicalRange();
    if (!range) return;
    const width = range.to - range.from;
    let next = null;
    if (e.key === 'ArrowLeft') next = { from: range.from - width / 8, to: range.to - width / 8 };
    else if (e.key === 'ArrowRight') next = { from: range.from + width / 8, to: range.to + width / 8 };
    else if (e.key === '+' || e.key === '=') next = { from: range.from + width / 6, to: range.to - width / 6 };
    else if (e.key === '-' || e.key === '_') next = { from: range.from - width / 4, to: range.to + width / 4 };
    else if (e.key === 'Home') {
      this.userMoved = false;
      ts.fitContent();
      e.preventDefault();
      return;
    }
    if (!next) return;
    e.preventDefault();
    this.userMoved = true;
    ts.setVisibleLogicalRange(next);
  }
}
