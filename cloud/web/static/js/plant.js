// A plant: latest values with status, history charts (24 h / 7 d / 30 d / 1 y) with the
// threshold band and a read-out, the photo timeline with the canopy trend, every diagnosis,
// "ask for a fresh diagnosis", and the plant's alerts with acknowledge.
import { alertList } from "./alerts.js";
import { api, thumbnail } from "./client.js";
import { drawChart, summarise } from "./chart.js";
import { diagnosisArticle } from "./diagnosis.js";
import {
  METRICS, PLANT_METRICS, convert, dateTime, el, formatRange, formatValue, percent, relativeTime,
  thresholdField, unitOf,
} from "./format.js";
import { daylightPanel, metricRange, statusBadge } from "./status.js";
import { account, announce, busy, errorNotice, page, pendingBadge } from "./ui.js";

const RANGES = [["24 h", 1], ["7 days", 7], ["30 days", 30], ["1 year", 365]];
let plant = null;
let rangeDays = 1;
const path = (suffix = "") => `plants/${encodeURIComponent(plant.id)}${suffix}`;

// A node's further sensors of a kind are channels 1, 2, …: "Temperature 2" is channel 1.
function channelLabel(metric, channel) {
  return channel ? `${METRICS[metric].label} ${channel + 1}` : METRICS[metric].label;
}

function tile(m, channel) {
  return el(
    "div", { class: "tile", dataset: { metric: m.metric, status: m.status, channel: String(channel) } },
    el("div", { class: "muted small" }, channelLabel(m.metric, channel)),
    el("div", { class: "value" }, formatValue(m.metric, m.value)),
    statusBadge(m.status),
    el("div", { class: "muted small" }, PLANT_METRICS.includes(m.metric) ? metricRange(m) : ""),
    el("div", { class: "muted small" }, m.measured_at ? relativeTime(m.measured_at) : ""),
  );
}

function tiles(status) {
  return el("div", { class: "tiles", id: "tiles" },
    status.metrics.map((m) => tile(m, 0)),
    (status.channels || []).flatMap((c) => c.metrics.map((m) => tile(m, c.channel))));
}

function chartPanel(history, metric, start, end, rangeName) {
  const channel = history.channel || 0;
  const low = plant.thresholds[thresholdField(metric, "min")];
  const high = plant.thresholds[thresholdField(metric, "max")];
  const points = history.points.filter((p) => p[metric] != null).map((p) => ({
    t: Date.parse(p.t),
    value: convert(metric, p[metric]),
    minimum: convert(metric, p[`${metric}_min`] ?? p[metric]),
    maximum: convert(metric, p[`${metric}_max`] ?? p[metric]),
  }));
  const digits = METRICS[metric].digits;
  const fmt = (v) => v.toFixed(digits);
  const withUnit = (v) => `${fmt(v)} ${unitOf(metric)}`;
  const name = channelLabel(metric, channel);
  const holder = el("div", { class: "plot" });
  const readout = el("p", { class: "readout small", dataset: { role: "readout" } });
  drawChart(holder, {
    points, start: start.getTime(), end: end.getTime(), low: convert(metric, low), high: convert(metric, high),
    format: fmt, readoutFormat: withUnit, label: `${name} over ${rangeName}, ${unitOf(metric)}`, readout,
  });
  return el("div", { class: "chart panel", dataset: { metric, channel: String(channel), points: points.length, resolution: history.resolution } },
    el("figure", {}, el("figcaption", {}, `${name} (${unitOf(metric)})`), holder, readout,
      el("p", { class: "muted small" }, `${summarise(points, withUnit)} · ${formatRange(metric, low, high)} · ${history.resolution} data`)));
}

async function drawCharts(box) {
  const end = new Date();
  const start = new Date(end.getTime() - rangeDays * 86400e3);
  box.setAttribute("aria-busy", "true");
  const window = `start=${encodeURIComponent(start.toISOString())}&end=${encodeURIComponent(end.toISOString())}&max_points=400`;
  const history = await api(`${path("/readings")}?${window}`);
  // Further sensors of a kind (channels 1, 2, …), charted after the first of their metric.
  const extra = await Promise.all((history.channels || []).filter((c) => c > 0)
    .map((c) => api(`${path("/readings")}?channel=${c}&${window}`)));
  const rangeName = RANGES.find(([, days]) => days === rangeDays)[0];
  box.replaceChildren(...PLANT_METRICS.flatMap((metric) => [
    chartPanel(history, metric, start, end, rangeName),
    ...extra.filter((h) => h.points.some((p) => p[metric] != null))
      .map((h) => chartPanel(h, metric, start, end, rangeName)),
  ]));
  box.setAttribute("aria-busy", "false");
}

function rangeButtons(box) {
  const group = el("div", { class: "ranges", role: "group", "aria-label": "Period" });
  for (const [label, days] of RANGES) {
    const button = el("button", { type: "button", class: "secondary", dataset: { range: days }, "aria-pressed": String(days === rangeDays) }, label);
    button.addEventListener("click", () => busy(button, async () => {
      rangeDays = days;
      for (const b of group.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
      await drawCharts(box);
      announce(`Showing ${label}`);
    }));
    group.append(button);
  }
  return group;
}

function canopyTrend(images) {
  const points = images.filter((i) => i.metrics).map((i) => ({ t: Date.parse(i.captured_at), value: i.metrics.canopy_cover * 100 }))
    .sort((a, b) => a.t - b.t).map((p) => ({ ...p, minimum: p.value, maximum: p.value }));
  if (!points.length) return el("p", { class: "muted" }, "No photos with green-pixel metrics yet.");
  const holder = el("div");
  const readout = el("p", { class: "readout small" });
  const span = Math.max(points[points.length - 1].t - points[0].t, 3600e3);
  drawChart(holder, {
    points, start: points[0].t - span * 0.03, end: points[points.length - 1].t + span * 0.03, low: null, high: null,
    format: (v) => `${v.toFixed(0)}%`, readoutFormat: (v) => `${v.toFixed(1)} % canopy`, label: "Canopy cover over time, percent of the photo", readout,
  });
  const change = points[points.length - 1].value - points[0].value;
  return el("div", { id: "canopy", class: "chart" }, el("figure", { class: "panel", dataset: { points: points.length } },
    el("figcaption", {}, "Canopy cover (% of the photo that is plant)"), holder, readout,
    el("p", { class: "muted small" }, `${points.length} photos · latest ${points[points.length - 1].value.toFixed(1)} % · ${change >= 0 ? "up" : "down"} ${Math.abs(change).toFixed(1)} points since ${dateTime(new Date(points[0].t).toISOString())}`)));
}

function photoImg(imageId, width, height) {
  const img = el("img", { alt: "", width, height });
  thumbnail(imageId).then((url) => { img.src = url; }, () => { img.alt = "thumbnail unavailable"; });
  return img;
}

function timeline(images, refresh) {
  if (!images.length) return el("p", { class: "muted" }, "No photos yet. Nodes with a camera send them through the hub.");
  return el("ul", { class: "timeline", "aria-label": `${images.length} photos, newest first` }, images.map((image) => {
    const status = el("div", { "aria-live": "polite" });
    const ask = el("button", { type: "button", class: "secondary", dataset: { action: "rediagnose", imageId: image.id } }, "Ask for a fresh diagnosis");
    ask.addEventListener("click", () => busy(ask, async () => {
      const queued = await api(`images/${encodeURIComponent(image.id)}/diagnoses`, { method: "POST" });
      announce(queued.status === "succeeded" ? "Diagnosis ready" : "Diagnosis requested");
      await refresh();
    }, status));
    return el("li", { dataset: { imageId: image.id } }, photoImg(image.id, 160, 120),
      el("p", { class: "small" }, dateTime(image.captured_at), image.metrics ? ` · canopy ${percent(image.metrics.canopy_cover)}` : ""),
      ask, status);
  }));
}

function diagnoses(list) {
  if (!list.length) return el("p", { class: "muted", dataset: { role: "no-diagnosis" } }, "No diagnosis yet. The cloud diagnoses each photo the hub sends.");
  const pending = (d) => `Queued (asked ${relativeTime(d.requested_at)}); it shows here when the cloud has looked at the photo.`;
  const failed = (d) => `The cloud could not diagnose this photo after ${d.attempts} attempts${d.last_error ? ` (${d.last_error})` : ""}.`;
  const article = (d, level) => diagnosisArticle(d, {
    level, pending, failed,
    photo: el("div", { class: "diag-photo" }, photoImg(d.image_id, 96, 72), el("span", { class: "cap" }, "The photo it looked at")),
  });
  const [latest, ...older] = list;
  return el("div", { id: "diagnoses" }, article(latest, "h3"),
    older.length ? el("details", { class: "older" }, el("summary", {}, `Earlier diagnoses (${older.length})`), older.map((d) => article(d, "h4"))) : null);
}

export async function render(_name, [plantId]) {
  await account();
  plant = await api(`plants/${encodeURIComponent(plantId)}`);
  const [status, hubs] = await Promise.all([api(path("/status")), api("hubs")]);
  const charts = el("div", { class: "charts", id: "charts" });
  const photos = el("div", { id: "photos" });
  const diagBox = el("div", { id: "diagnosis" });
  const alertBox = el("div", { id: "plant-alerts" });
  const waiting = hubs.some((h) => h.config_pending);
  page(plant.name,
    el("p", { class: "muted" }, [plant.species_name || "No species set", plant.location].filter(Boolean).join(" · "), " ",
      waiting ? pendingBadge() : null, " ",
      el("a", { href: `/app/plants/${encodeURIComponent(plant.id)}/edit` }, "Edit plant and thresholds")),
    el("section", { "aria-labelledby": "now-heading" }, el("h2", { id: "now-heading" }, "Now"), tiles(status)),
    el("section", { "aria-labelledby": "light-heading", class: "panel", id: "light" }, el("h2", { id: "light-heading" }, "Daily light"),
      el("div", { id: "dli" }, ...daylightPanel((status.metrics.find((m) => m.metric === "illuminance") || {}).daily))),
    el("section", { "aria-labelledby": "history-heading" }, el("h2", { id: "history-heading" }, "History"), rangeButtons(charts), charts),
    el("section", { "aria-labelledby": "diag-heading" }, el("h2", { id: "diag-heading" }, "Diagnosis"), diagBox),
    el("section", { "aria-labelledby": "photos-heading" }, el("h2", { id: "photos-heading" }, "Photos"), photos),
    el("section", { "aria-labelledby": "alerts", id: "alerts-section" }, el("h2", { id: "alerts" }, "Alerts"), alertBox));
  const loadPhotos = async () => {
    const [images, found] = await Promise.all([api(`${path("/images")}?limit=100`), api(`${path("/diagnoses")}?limit=20`)]);
    photos.replaceChildren(canopyTrend(images), timeline(images, loadPhotos));
    diagBox.replaceChildren(diagnoses(found));
  };
  const loadAlerts = async () => {
    alertBox.replaceChildren(await alertList(await api(`${path("/alerts")}?limit=50`), loadAlerts, { showPlant: false }));
  };
  const parts = [drawCharts(charts), loadPhotos(), loadAlerts()];
  const results = await Promise.allSettled(parts);
  for (const [i, result] of results.entries()) {
    if (result.status === "rejected") [charts, photos, alertBox][i].replaceChildren(errorNotice(result.reason));
  }
}
