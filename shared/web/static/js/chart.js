// A small SVG time-series chart: line (+ min/max spread), threshold band, axes, and a hover /
// tap / arrow-key read-out of any point. No libraries.
import { getLocale } from "./format.js";

const NS = "http://www.w3.org/2000/svg";
const W = 360;
const H = 190;
const PAD = { left: 42, right: 8, top: 8, bottom: 22 };

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceTicks(lo, hi, count = 4) {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toFixed(10));
  return ticks;
}

function timeLabel(ms, spanMs) {
  const d = new Date(ms);
  const locale = getLocale();
  if (spanMs <= 2 * 86400e3) return d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  if (spanMs <= 62 * 86400e3) return d.toLocaleDateString(locale, { month: "short", day: "numeric" });
  return d.toLocaleDateString(locale, { month: "short", year: "numeric" });
}

/**
 * Draw a chart into `container` (replacing its content).
 * options: points [{t: ms, value, minimum, maximum}], start/end (ms), low/high (band, may be
 * null), format(value) for labels, label (accessible name), unit, and optionally readout: an
 * element that shows the point under the pointer (or chosen with the arrow keys) and
 * readoutFormat(value) for it (with the unit; default: format), and emptyText: why there is
 * nothing to draw (default: no readings in the window).
 */
export function drawChart(container, options) {
  const { points, start, end, low, high, format, label } = options;
  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": label,
  });
  const values = points.flatMap((p) => [p.minimum ?? p.value, p.maximum ?? p.value]);
  for (const bound of [low, high]) if (bound != null) values.push(bound);
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  if (hi - lo < 1e-6) {
    lo -= 1;
    hi += 1;
  }
  const margin = (hi - lo) * 0.08;
  lo -= margin;
  hi += margin;
  const x = (t) => PAD.left + ((t - start) / (end - start || 1)) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const bottom = H - PAD.bottom;

  for (const tick of niceTicks(lo, hi)) {
    root.append(svg("line", { class: "grid", x1: PAD.left, x2: W - PAD.right, y1: y(tick), y2: y(tick) }));
    root.append(svg("text", { x: PAD.left - 4, y: y(tick) + 4, "text-anchor": "end" }, format(tick)));
  }
  const spanMs = end - start;
  const steps = 3; // four time labels fit a phone-width chart without overlapping
  for (let i = 0; i <= steps; i += 1) {
    const t = start + (spanMs * i) / steps;
    const anchor = i === 0 ? "start" : i === steps ? "end" : "middle";
    root.append(svg("text", { x: x(t), y: H - 6, "text-anchor": anchor }, timeLabel(t, spanMs)));
  }

  if (low != null || high != null) {
    const top = high != null ? y(high) : PAD.top;
    const base = low != null ? y(low) : bottom;
    root.append(svg("rect", {
      class: "band", x: PAD.left, y: Math.max(PAD.top, top), width: W - PAD.left - PAD.right,
      height: Math.max(0, Math.min(bottom, base) - Math.max(PAD.top, top)),
    }));
    for (const edge of [low, high]) {
      if (edge != null) {
        root.append(svg("line", { class: "band-edge", x1: PAD.left, x2: W - PAD.right, y1: y(edge), y2: y(edge) }));
      }
    }
  }

  if (points.length) {
    const hasSpread = points.some((p) => p.maximum !== p.minimum);
    if (hasSpread) {
      const upper = points.map((p) => `${x(p.t).toFixed(1)},${y(p.maximum).toFixed(1)}`);
      const lower = points.map((p) => `${x(p.t).toFixed(1)},${y(p.minimum).toFixed(1)}`).reverse();
      root.append(svg("polygon", { class: "spread", points: [...upper, ...lower].join(" ") }));
    }
    const line = points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)} ${y(p.value).toFixed(1)}`);
    root.append(svg("path", { class: "line", d: line.join(""), "vector-effect": "non-scaling-stroke" }));
    if (points.length < 40) {
      for (const p of points) root.append(svg("circle", { class: "dot", cx: x(p.t), cy: y(p.value), r: 2.5 }));
    }
  } else {
    const why = options.emptyText || "No readings in this period";
    root.append(svg("text", { class: "empty", x: W / 2, y: H / 2, "text-anchor": "middle" }, why));
    root.setAttribute("aria-label", `${label}: ${why}`);
  }
  root.append(svg("line", { class: "axis", x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: bottom }));
  root.append(svg("line", { class: "axis", x1: PAD.left, x2: W - PAD.right, y1: bottom, y2: bottom }));
  container.replaceChildren(root);
  if (options.readout && points.length) attachReadout(root, points, x, y, options);
  return root;
}

function pointText(p, format) {
  const when = new Date(p.t).toLocaleString(getLocale(), {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
  // Said only when it reads differently ("28 % to 28 %" says nothing).
  const low = p.minimum != null ? format(p.minimum) : null;
  const high = p.maximum != null ? format(p.maximum) : null;
  const spread = low !== null && high !== null && low !== high ? ` (${low} to ${high})` : "";
  return `${when}: ${format(p.value)}${spread}`;
}

function attachReadout(root, points, x, y, options) {
  const { readout } = options;
  const format = options.readoutFormat || options.format;
  const cursor = svg("line", { class: "cursor", y1: PAD.top, y2: H - PAD.bottom, visibility: "hidden" });
  const dot = svg("circle", { class: "cursor-dot", r: 4, visibility: "hidden" });
  root.append(cursor, dot);
  root.setAttribute("tabindex", "0");
  let index = points.length - 1;
  const show = (i) => {
    index = Math.max(0, Math.min(points.length - 1, i));
    const p = points[index];
    for (const node of [cursor, dot]) node.setAttribute("visibility", "visible");
    cursor.setAttribute("x1", x(p.t));
    cursor.setAttribute("x2", x(p.t));
    dot.setAttribute("cx", x(p.t));
    dot.setAttribute("cy", y(p.value));
    readout.textContent = pointText(p, format);
    readout.dataset.index = String(index);
  };
  const nearest = (event) => {
    const box = root.getBoundingClientRect();
    const vx = ((event.clientX - box.left) / box.width) * W;
    let best = 0;
    for (let i = 1; i < points.length; i += 1) {
      if (Math.abs(x(points[i].t) - vx) < Math.abs(x(points[best].t) - vx)) best = i;
    }
    return best;
  };
  root.addEventListener("pointermove", (event) => show(nearest(event)));
  root.addEventListener("pointerdown", (event) => show(nearest(event)));
  root.addEventListener("focus", () => show(index));
  root.addEventListener("keydown", (event) => {
    const step = { ArrowLeft: -1, ArrowRight: 1, Home: -points.length, End: points.length }[event.key];
    if (step === undefined) return;
    event.preventDefault();
    show(index + step);
  });
}

/** A one-line text summary of a series (shown under the chart; read by screen readers). */
export function summarise(points, format) {
  if (!points.length) return "No readings in this period.";
  const values = points.map((p) => p.value);
  const last = points[points.length - 1];
  return `${points.length} points · lowest ${format(Math.min(...points.map((p) => p.minimum ?? p.value)))} · highest ${format(
    Math.max(...points.map((p) => p.maximum ?? p.value)),
  )} · latest ${format(last.value)} · average ${format(values.reduce((a, b) => a + b, 0) / values.length)}`;
}
