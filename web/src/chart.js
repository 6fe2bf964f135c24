// chart.js — the candlestick and volume chart, drawn by TradingView's
// lightweight-charts (pinned in web/package-lock.json, embedded by the build).
// Bars come from chart-data-v2 and replace the series on each refresh; the
// view is fitted to the bars until the user pans or zooms, after which the
// visible time range is kept across refreshes. Keyboard: arrows pan, + and -
// zoom, Home fits everything. The series' stored forecast, when there is one,
// is drawn past the last bar: the point forecast as a dashed line over shaded
// 80% and 95% prediction bands (a series primitive paints the bands); it can
// be hidden.
import {
  createChart,
  CandlestickSeries,
  HistogramSeries,
  LineSeries,
  LineStyle,
  ColorType,
} from './lightweight-charts.mjs';

const UP = '#1a9e6e';
const DOWN = '#d64545';

function palette() {
  const dark = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches;
  return dark
    ? { text: '#c9d1d9', grid: 'rgba(201,209,217,0.08)', border: '#30363d' }
    : { text: '#1f2933', grid: 'rgba(31,41,51,0.07)', border: '#d0d7de' };
}

const FC_LINE = '#3b6fd4';
const FC_BAND80 = 'rgba(59,111,212,0.28)';
const FC_BAND95 = 'rgba(59,111,212,0.13)';

// Paints the forecast bands as filled polygons between the low and high
// bounds, behind the series it is attached to (the point forecast line).
class BandPrimitive {
  constructor() {
    this.steps = []; // {time, lo80, hi80, lo95, hi95}
    this.visible = true;
    const self = this;
    this.view = {
      zOrder: () => 'bottom',
      renderer: () => ({ draw: (target) => self.draw(target) }),
    };
  }

  attached({ chart, series, requestUpdate }) {
    this.chart = chart;
    this.series = series;
    this.requestUpdate = requestUpdate;
  }

  detached() {
    this.chart = this.series = this.requestUpdate = null;
  }

  updateAllViews() {}

  paneViews() {
    return [this.view];
  }

  set(steps, visible) {
    this.steps = steps;
    this.visible = visible;
    if (this.requestUpdate) this.requestUpdate();
  }

  draw(target) {
    if (!this.visible || !this.chart || this.steps.length === 0) return;
    const ts = this.chart.timeScale();
    const pts = [];
    for (const s of this.steps) {
      const x = ts.timeToCoordinate(s.time);
      const y = [s.lo95, s.lo80, s.hi80, s.hi95].map((v) => this.series.priceToCoordinate(v));
      if (x === null || y.some((v) => v === null)) continue;
      pts.push({ x, y });
    }
    if (pts.length === 0) return;
    target.useBitmapCoordinateSpace(({ context: ctx, horizontalPixelRatio: hr, verticalPixelRatio: vr }) => {
      const band = (lo, hi, color) => {
        ctx.beginPath();
        pts.forEach((p, i) => (i ? ctx.lineTo(p.x * hr, p.y[hi] * vr) : ctx.moveTo(p.x * hr, p.y[hi] * vr)));
        for (let i = pts.length - 1; i >= 0; i--) ctx.lineTo(pts[i].x * hr, pts[i].y[lo] * vr);
        ctx.closePath();
        ctx.fillStyle = color;
        ctx.fill();
      };
      if (pts.length === 1) {
        // one step: a short vertical bar per band
        const w = 3 * hr;
        ctx.fillStyle = FC_BAND95;
        ctx.fillRect(pts[0].x * hr - w, pts[0].y[3] * vr, 2 * w, (pts[0].y[0] - pts[0].y[3]) * vr);
        ctx.fillStyle = FC_BAND80;
        ctx.fillRect(pts[0].x * hr - w, pts[0].y[2] * vr, 2 * w, (pts[0].y[1] - pts[0].y[2]) * vr);
        return;
      }
      band(0, 3, FC_BAND95);
      band(1, 2, FC_BAND80);
    });
  }
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
    this.forecast = [];
    this.forecastShown = true;
    this.fcPoint = this.chart.addSeries(LineSeries, {
      color: FC_LINE,
      lineWidth: 2,
      lineStyle: LineStyle.Dashed,
      lastValueVisible: false,
      priceLineVisible: false,
      crosshairMarkerVisible: false,
    });
    // invisible bounds keep the price scale wide enough for the 95% band
    const bound = {
      color: 'rgba(0,0,0,0)',
      lastValueVisible: false,
      priceLineVisible: false,
      crosshairMarkerVisible: false,
    };
    this.fcLo = this.chart.addSeries(LineSeries, bound);
    this.fcHi = this.chart.addSeries(LineSeries, bound);
    this.bands = new BandPrimitive();
    this.fcPoint.attachPrimitive(this.bands);
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

  // Replace the forecast (chart-data-v2 forecast steps, step order; [] for none).
  setForecast(steps) {
    this.forecast = steps.map((s) => ({ ...s, time: Math.floor(Date.parse(s.ts) / 1000) }));
    this.drawForecast();
  }

  showForecast(on) {
    this.forecastShown = on;
    this.drawForecast();
  }

  drawForecast() {
    const f = this.forecastShown ? this.forecast : [];
    // the line starts at the last close so it continues the candles
    const last = this.bars.length ? this.bars[this.bars.length - 1] : null;
    const lead = last && f.length ? [{ time: Math.floor(Date.parse(last.ts) / 1000), value: last.close }] : [];
    const ahead = f.filter((s) => !lead.length || s.time > lead[0].time);
    this.fcPoint.setData([...lead, ...ahead.map((s) => ({ time: s.time, value: s.point }))]);
    this.fcLo.setData(ahead.map((s) => ({ time: s.time, value: s.lo95 })));
    this.fcHi.setData(ahead.map((s) => ({ time: s.time, value: s.hi95 })));
    this.bands.set(ahead, this.forecastShown);
    if (!this.userMoved && (this.bars.length || ahead.length)) this.chart.timeScale().fitContent();
  }

  // The forecast as drawn (for tests): the steps on the chart and whether shown.
  forecastData() {
    return {
      shown: this.forecastShown,
      steps: this.fcPoint.data().length,
      bands: this.bands.visible ? this.bands.steps.length : 0,
    };
  }

  // A new series: forget the bars, the forecast and the user's view.
  reset() {
    this.userMoved = false;
    this.forecast = [];
    this.setBars([]);
    this.drawForecast();
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
