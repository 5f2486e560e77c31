// Names, units and formatting of what the nodes measure, in the gardener's language.

// Filled by loadMetrics() from GET /api/v1/metrics (the metric registry), before rendering:
// name -> { label, unit, minimum, maximum, digits, thresholdPrefix, compactAbove, daily }.
export const METRICS = {};
// Metrics with species thresholds (the plant's conditions), in display order.
export const PLANT_METRICS = [];

/** Load the metric list from the API once; every page awaits it before rendering. */
export async function loadMetrics(fetchJson) {
  if (PLANT_METRICS.length) return METRICS;
  const list = await fetchJson("/api/v1/metrics");
  for (const m of list) {
    METRICS[m.name] = {
      label: m.label,
      unit: m.unit,
      minimum: m.minimum,
      maximum: m.maximum,
      digits: m.decimals,
      thresholdPrefix: m.threshold_prefix,
      compactAbove: m.compact_above,
      daily: m.daily,
    };
    if (m.thresholds) PLANT_METRICS.push(m.name);
  }
  return METRICS;
}

/** The threshold field of a metric: thresholdField("illuminance", "min") is "light_lux_min". */
export function thresholdField(metric, side) {
  const meta = METRICS[metric];
  return `${meta && meta.thresholdPrefix ? meta.thresholdPrefix : metric}_${side}`;
}

let temperatureUnit = "C";
let displayLocale;

/** The locale dates and times are written in (a BCP 47 tag; empty: the browser's). */
export function setLocale(locale) {
  displayLocale = locale || undefined;
}

export function getLocale() {
  return displayLocale;
}

export function setTemperatureUnit(unit) {
  temperatureUnit = unit === "F" ? "F" : "C";
}

export function getTemperatureUnit() {
  return temperatureUnit;
}

function isCelsius(metric) {
  return Boolean(METRICS[metric]) && METRICS[metric].unit === "°C";
}

/** A metric value in the display unit (°F when chosen, for metrics measured in °C). */
export function convert(metric, value) {
  if (value === null || value === undefined) return value;
  if (isCelsius(metric) && temperatureUnit === "F") return (value * 9) / 5 + 32;
  return value;
}

export function unitOf(metric) {
  if (isCelsius(metric)) return temperatureUnit === "F" ? "°F" : "°C";
  return METRICS[metric] ? METRICS[metric].unit : "";
}

export function number(metric, value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const meta = METRICS[metric] || { digits: 1 };
  const shown = convert(metric, value);
  if (meta.compactAbove != null && shown >= meta.compactAbove) return `${(shown / 1000).toFixed(1)}k`;
  return shown.toFixed(meta.digits);
}

/** "42 %", "21.5 °C" or "–" for a missing value. */
export function formatValue(metric, value) {
  if (value === null || value === undefined) return "–";
  return `${number(metric, value)} ${unitOf(metric)}`;
}

export function formatRange(metric, minimum, maximum) {
  if (minimum == null && maximum == null) return "no thresholds set";
  if (minimum == null) return `ideal up to ${formatValue(metric, maximum)}`;
  if (maximum == null) return `ideal from ${formatValue(metric, minimum)}`;
  return `ideal ${number(metric, minimum)}–${number(metric, maximum)} ${unitOf(metric)}`;
}

export function relativeTime(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (seconds < 0) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function dateTime(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleString(displayLocale, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

export function bytes(n) {
  if (n == null) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export function percent(fraction, digits = 0) {
  return fraction == null ? "–" : `${(fraction * 100).toFixed(digits)} %`;
}

/** Build an element: el("p", {class: "x"}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
