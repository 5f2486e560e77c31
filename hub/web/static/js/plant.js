// Plant page: latest values, history charts per range with the threshold band, canopy trend,
// photo gallery, cloud diagnosis, alerts with acknowledge.
import { api } from "./api.js";
import { drawChart, summarise } from "./chart.js";
import { diagnosisArticle as sharedDiagnosis } from "./diagnosis.js";
import {
  METRICS, PLANT_METRICS, convert, dateTime, el, formatRange, formatValue, percent, relativeTime,
  thresholdField, unitOf,
} from "./format.js";
import { daylightPanel, statusBadge } from "./status.js";
import { announce, busy, loadUnits, showError } from "./shell.js";

const plantId = decodeURIComponent(window.location.pathname.split("/").filter(Boolean).pop());
const errorBox = document.getElementById("plant-error");
const chartsBox = document.getElementById("charts");
let plant = null;
let rangeDays = 1;

// A node's further sensors of a kind are channels 1, 2, …: "Temperature 2" is channel 1.
function channelLabel(metric, channel) {
  return channel ? `${METRICS[metric].label} ${channel + 1}` : METRICS[metric].label;
}

function tile(m, channel) {
  return el(
    "div",
    { class: "tile", dataset: { metric: m.metric, status: m.status, channel: String(channel) } },
    el("div", { class: "muted small" }, channelLabel(m.metric, channel)),
    el("div", { class: "value" }, formatValue(m.metric, m.value)),
    statusBadge(m.status),
    el("div", { class: "muted small" }, !PLANT_METRICS.includes(m.metric) ? "" : formatRange(m.metric, m.minimum, m.maximum)),
    el("div", { class: "muted small", title: m.measured_at || "" }, m.measured_at ? relativeTime(m.measured_at) : ""),
  );
}

async function loadStatus() {
  const status = await api(`/api/v1/plants/${encodeURIComponent(plantId)}/status`);
  const tiles = document.getElementById("tiles");
  tiles.replaceChildren(
    ...status.metrics.map((m) => tile(m, 0)),
    ...(status.channels || []).flatMap((c) => c.metrics.map((m) => tile(m, c.channel))),
  );
  document.getElementById("dli").replaceChildren(
    ...daylightPanel((status.metrics.find((m) => m.metric === "illuminance") || {}).daily));
}

async function loadWatering() {
  const watering = await api(`/api/v1/plants/${encodeURIComponent(plantId)}/watering`);
  const box = document.getElementById("watering-body");
  const f = watering.forecast;
  const detail = f.status === "unknown" ? null
    : f.status === "now" ? `Soil at ${f.moisture.toFixed(0)} %, at or below this plant's ${f.minimum} %.`
      : `Soil at ${f.moisture.toFixed(0)} %, drying about ${f.drying_per_day.toFixed(1)} points a day; reaches ${f.minimum} % around ${dateTime(f.dry_at)}.`;
  const events = watering.events.length
    ? el("ul", { class: "waterings", "aria-label": "Waterings of the last two weeks, newest first" },
      watering.events.map((e) => el("li", { dataset: { at: e.at } }, `${dateTime(e.at)}: ${e.before.toFixed(0)} % → ${e.after.toFixed(0)} % (+${e.rise.toFixed(0)} points)`)))
    : el("p", { class: "muted" }, "No watering seen in the last two weeks (a rise of 8 points or more within 3 hours counts).");
  box.replaceChildren(...[
    el("p", { class: `forecast ${f.status}`, dataset: { role: "forecast", status: f.status } }, f.status === "unknown" ? f.text : `💧 ${f.text}`),
    detail ? el("p", { class: "muted small" }, detail) : null,
    el("h3", {}, "Waterings"),
    events,
  ].filter(Boolean));
}

// Why a chart is empty, in words: no node, or the node sent nothing in the window.
function emptyWhy(rangeName) {
  if (!plant.node_mac) return "No node watches this plant yet";
  return `No readings in the last ${rangeName}`;
}

function chartPanel(history, start, end, rangeName) {
  const metric = history.metric;
  const channel = history.channel || 0;
  const low = plant.thresholds[thresholdField(metric, "min")];
  const high = plant.thresholds[thresholdField(metric, "max")];
  const points = history.points.map((p) => ({
    t: Date.parse(p.t), value: convert(metric, p.value), minimum: convert(metric, p.minimum), maximum: convert(metric, p.maximum),
  }));
  const fmt = (v) => `${v.toFixed(METRICS[metric].digits)}`;
  const name = channelLabel(metric, channel);
  const label = `${name} over ${rangeName}, ${unitOf(metric)}`;
  const holder = el("div", { class: "plot" });
  const readout = el("p", { class: "readout small", dataset: { role: "readout" } });
  drawChart(holder, {
    points, start: start.getTime(), end: end.getTime(), low: convert(metric, low), high: convert(metric, high),
    format: fmt, readoutFormat: (v) => `${fmt(v)} ${unitOf(metric)}`, label, readout,
    emptyText: emptyWhy(rangeName),
  });
  return el(
    "div",
    { class: "chart panel", dataset: { metric, channel: String(channel), points: points.length, resolution: history.resolution } },
    el("figure", {},
      el("figcaption", {}, `${name} (${unitOf(metric)})`),
      holder,
      readout,
      el("p", { class: "muted small" }, points.length
        ? `${summarise(points, (v) => `${fmt(v)} ${unitOf(metric)}`)} · ${formatRange(metric, low, high)} · ${history.resolution} data`
        : `${emptyWhy(rangeName)}: nothing to chart. ${plant.node_mac ? "The node was not heard in this window (out of range, battery, or just paired)." : "Assign a node in “Edit this plant”."}`)),
  );
}

async function loadCharts() {
  const end = new Date();
  const start = new Date(end.getTime() - rangeDays * 86400e3);
  chartsBox.setAttribute("aria-busy", "true");
  const query = `start=${encodeURIComponent(start.toISOString())}&end=${encodeURIComponent(end.toISOString())}&max_points=300`;
  const history = (metric, channel) => api(`/api/v1/plants/${encodeURIComponent(plantId)}/history?metric=${metric}&channel=${channel}&${query}`);
  const histories = await Promise.all(PLANT_METRICS.map((metric) => history(metric, 0)));
  // Further sensors of a kind (channels 1, 2, …): charted after the first, when they measured.
  const extra = await Promise.all(histories.flatMap((h) => (h.channels || []).filter((c) => c > 0)
    .map((c) => history(h.metric, c))));
  const rangeName = document.querySelector(`[data-range="${rangeDays}"]`).textContent;
  const ordered = histories.flatMap((h) => [h, ...extra.filter((x) => x.metric === h.metric && x.points.length)]);
  chartsBox.replaceChildren(...ordered.map((h) => chartPanel(h, start, end, rangeName)));
  chartsBox.setAttribute("aria-busy", "false");
}

function drawCanopy(images) {
  const box = document.getElementById("canopy");
  const points = images
    .filter((i) => i.metrics)
    .map((i) => ({ t: Date.parse(i.captured_at), value: i.metrics.canopy_cover * 100 }))
    .sort((a, b) => a.t - b.t);
  if (!points.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No photos with green-pixel metrics yet."));
    return;
  }
  const holder = el("div");
  const span = Math.max(points[points.length - 1].t - points[0].t, 3600e3);
  drawChart(holder, {
    points: points.map((p) => ({ ...p, minimum: p.value, maximum: p.value })),
    start: points[0].t - span * 0.03, end: points[points.length - 1].t + span * 0.03,
    low: null, high: null, format: (v) => `${v.toFixed(0)}%`, label: "Canopy cover over time, percent of the photo",
  });
  const first = points[0].value;
  const last = points[points.length - 1].value;
  const change = last - first;
  box.replaceChildren(
    el("figure", { class: "panel", dataset: { points: points.length } },
      el("figcaption", {}, "Canopy cover (% of the photo that is plant)"),
      holder,
      el("p", { class: "muted small" }, `${points.length} photos · latest ${last.toFixed(1)} % · ${change >= 0 ? "up" : "down"} ${Math.abs(change).toFixed(1)} points since ${dateTime(new Date(points[0].t).toISOString())}`)),
  );
}

function openPhoto(image) {
  const dialog = document.getElementById("photo-dialog");
  const img = document.getElementById("photo-full");
  img.src = image.file_url;
  img.alt = `Photo of ${plant.name} taken ${dateTime(image.captured_at)}`;
  document.getElementById("photo-title").textContent = `Photo of ${dateTime(image.captured_at)}`;
  const m = image.metrics;
  const facts = [
    ["Canopy cover", m ? percent(m.canopy_cover, 1) : "–"],
    ["Excess green", m ? m.excess_green_mean.toFixed(1) : "–"],
    ["Brightness", m ? m.brightness.toFixed(0) : "–"],
    ["Size", image.width ? `${image.width}×${image.height}` : "–"],
    ["From", image.source === "ble" ? "the node's camera" : "an upload"],
    ["Cloud", image.upload_state === "done" ? "uploaded" : "not yet uploaded"],
  ];
  if (image.metrics_error) facts.push(["Metrics", image.metrics_error]);
  document.getElementById("photo-facts").replaceChildren(
    ...facts.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))),
  );
  const flags = m && m.flags.length ? m.flags : [];
  document.getElementById("photo-flags").replaceChildren(
    ...(flags.length ? flags.map((f) => el("li", {}, f.replaceAll("_", " "))) : [el("li", { class: "ok" }, "no quality problems")]),
  );
  dialog.showModal();
  document.getElementById("photo-close").focus();
}

function drawGallery(images) {
  const box = document.getElementById("gallery");
  if (!images.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No photos yet. Nodes with a camera send them on their schedule."));
    return;
  }
  // Newest first, one grid; each caption carries its date so the timeline reads in order.
  box.replaceChildren(el("ul", { class: "gallery", "aria-label": `${images.length} photos, newest first` },
    images.map((image) => el(
      "li", {},
      el("button", { type: "button", dataset: { imageId: image.id }, onclick: () => openPhoto(image), "aria-label": `Open photo taken ${dateTime(image.captured_at)}` },
        image.thumbnail_url && image.file_present
          ? el("img", { src: image.thumbnail_url, alt: "", width: 160, height: 120 })
          : el("span", { class: "cap" }, "file removed to save space"),
        el("span", { class: "cap" },
          dateTime(image.captured_at),
          image.metrics ? ` · canopy ${percent(image.metrics.canopy_cover)}` : "",
          image.metrics && image.metrics.flags.length ? ` · ⚑ ${image.metrics.flags.length} flag${image.metrics.flags.length > 1 ? "s" : ""}` : "")),
    ))));
}

async function loadImages() {
  const images = await api(`/api/v1/plants/${encodeURIComponent(plantId)}/images?limit=200`);
  drawCanopy(images);
  drawGallery(images);
  await loadDiagnoses(images);
}

function photoButton(d, images) {
  const taken = d.image_captured_at ? dateTime(d.image_captured_at) : "an unknown time";
  const image = d.photo ? images.find((i) => i.id === d.photo.image_id) : null;
  if (!image) return el("span", { class: "muted small" }, `Photo of ${taken}${d.image_sha256 ? " (not kept on this hub)" : ""}`);
  return el("button", { type: "button", class: "diag-photo", dataset: { imageId: image.id }, onclick: () => openPhoto(image), "aria-label": `Open the photo of ${taken} this diagnosis looked at` },
    image.thumbnail_url ? el("img", { src: image.thumbnail_url, alt: "", width: 96, height: 72 }) : null,
    el("span", { class: "cap" }, `Photo of ${taken}`));
}

function diagnosisArticle(d, images, level) {
  return sharedDiagnosis(d, {
    level,
    photo: photoButton(d, images),
    pending: () => `The cloud has this photo queued for a diagnosis (asked ${relativeTime(d.requested_at)}); it shows here after the next sync.`,
  });
}

async function loadDiagnoses(images) {
  // Served from the hub's own copy: it shows while the cloud (or the internet) is away.
  const result = await api(`/api/v1/plants/${encodeURIComponent(plantId)}/diagnoses`);
  const box = document.getElementById("diagnosis");
  const checked = result.last_checked_at
    ? el("p", { class: "muted small", dataset: { role: "diagnosis-checked" } }, `From the hub's copy · last checked with the cloud ${relativeTime(result.last_checked_at)} (${dateTime(result.last_checked_at)})`)
    : null;
  if (!result.items.length) {
    // replaceChildren would write a missing "last checked" line as the text "null".
    box.replaceChildren(...[
      el("p", { class: "muted", dataset: { role: "no-diagnosis" } }, result.linked
        ? "No diagnosis yet. The cloud diagnoses this plant's photos once they are synced."
        : ["No diagnosis: this hub is not linked to the cloud, which diagnoses this plant's photos. ",
          el("a", { href: "/sync#link-heading", dataset: { role: "link-hub" } }, "Link the hub on the Sync page"),
          " and its diagnoses show here, also while the hub is offline later."]),
      checked,
    ].filter(Boolean));
    return;
  }
  const [latest, ...older] = result.items;
  box.replaceChildren(diagnosisArticle(latest, images, "h3"));
  if (older.length) {
    box.append(el("details", { class: "older" }, el("summary", {}, `Earlier diagnoses (${older.length})`), older.map((d) => diagnosisArticle(d, images, "h4"))));
  }
  if (checked) box.append(checked);
}

async function loadAlerts() {
  const all = await api("/api/v1/alerts?limit=500");
  const mine = all.filter((a) => a.plant_id === plantId || (plant.node_mac && a.node_mac === plant.node_mac));
  const box = document.getElementById("plant-alerts");
  if (!mine.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No alerts for this plant."));
    return;
  }
  box.replaceChildren(el("ul", { class: "alerts" }, mine.map((a) => {
    const state = a.resolved_at ? `resolved ${relativeTime(a.resolved_at)}` : "open";
    const item = el("li", { class: a.acknowledged_at || a.resolved_at ? "acknowledged" : "", dataset: { alertId: a.id } },
      el("span", {}, `${a.resolved_at ? "" : "⚠ "}${a.message} — since ${dateTime(a.opened_at)} (${state}${a.acknowledged_at ? ", acknowledged" : ""})`));
    // Only an open alert asks for an acknowledgement: one that resolved itself asks nothing.
    if (!a.acknowledged_at && !a.resolved_at) {
      const button = el("button", { type: "button", class: "secondary" }, "Acknowledge");
      button.addEventListener("click", () => busy(button, async () => {
        await api(`/api/v1/alerts/${encodeURIComponent(a.id)}/acknowledge`, { method: "POST" });
        announce("Alert acknowledged");
        await loadAlerts();
      }));
      item.append(button);
    }
    return item;
  })));
}

// One "from"/"up to" input per metric with species thresholds, from the metric registry.
function limitInputs() {
  const box = document.getElementById("edit-limits");
  const keys = [];
  for (const metric of PLANT_METRICS) {
    const meta = METRICS[metric];
    for (const [side, words] of [["min", "from"], ["max", "up to"]]) {
      const key = thresholdField(metric, side);
      keys.push(key);
      box.append(el("div", {},
        el("label", { for: `edit-${key}` }, `${meta.label} ${words} (${meta.unit})`),
        el("input", {
          id: `edit-${key}`, name: key, type: "number", min: meta.minimum, max: meta.maximum,
          step: meta.digits ? 10 ** -meta.digits : 1, inputmode: "decimal",
        })));
    }
    if (meta.daily) {
      for (const [side, words] of [["min", "from"], ["max", "up to"]]) {
        const key = `${meta.daily.name}_${side}`;
        keys.push(key);
        box.append(el("div", {},
          el("label", { for: `edit-${key}` }, `${meta.daily.label} ${words} (${meta.daily.unit})`),
          el("input", { id: `edit-${key}`, name: key, type: "number", min: 0, max: 100, step: 0.1, inputmode: "decimal" })));
      }
    }
  }
  return keys;
}

// Editable whether or not the hub is linked: a cloud plant's edit applies here at once and goes
// up at the next sync (the cloud settles a conflict; a lost edit shows on the Sync page).
async function setUpEdit() {
  const [link, nodes, species] = await Promise.all([
    api("/api/v1/link"), api("/api/v1/nodes"), api("/api/v1/species"),
  ]);
  const linked = link.linked && plant.origin === "cloud";
  const form = document.getElementById("edit-form");
  const speciesSelect = form.elements.species;
  for (const s of species) speciesSelect.append(el("option", { value: s.id }, `${s.common_name} (${s.scientific_name})`));
  const LIMITS = limitInputs();
  const nodeSelect = form.elements.node;
  for (const node of nodes.filter((n) => !n.plant_id || n.plant_id === plant.id)) {
    nodeSelect.append(el("option", { value: node.mac }, `${node.name || "Node"} (${node.mac})`));
  }
  const fill = () => {
    form.elements.name.value = plant.name;
    form.elements.location.value = plant.location || "";
    speciesSelect.value = plant.species_id == null ? "" : String(plant.species_id);
    nodeSelect.value = plant.node_mac || "";
    for (const key of LIMITS) {
      const value = plant.overrides ? plant.overrides[key] : null;
      form.elements[key].value = value == null ? "" : String(value);
    }
  };
  fill();
  document.getElementById("edit-plant").hidden = false;
  const status = document.getElementById("edit-status");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const overrides = {};
    for (const key of LIMITS) {
      const raw = form.elements[key].value;
      if (raw !== "") overrides[key] = Number(raw);
    }
    const wanted = {
      name: form.elements.name.value.trim(),
      location: form.elements.location.value.trim() || null,
      species_id: speciesSelect.value ? Number(speciesSelect.value) : null,
      node_mac: nodeSelect.value || null,
      overrides: Object.keys(overrides).length ? overrides : null,
    };
    // Only what changed: an edit that goes up to the cloud carries just the gardener's changes.
    const body = {};
    const same = (a, b) => {
      const set = (o) => (o && typeof o === "object" ? Object.fromEntries(Object.entries(o).filter(([, v]) => v != null).sort()) : o ?? null);
      const [x, y] = [set(a), set(b)];
      return JSON.stringify(x && typeof x === "object" && !Object.keys(x).length ? null : x)
        === JSON.stringify(y && typeof y === "object" && !Object.keys(y).length ? null : y);
    };
    for (const [key, value] of Object.entries(wanted)) {
      if (!same(value, plant[key])) body[key] = value;
    }
    if (!Object.keys(body).length) {
      status.replaceChildren(el("p", { class: "notice", role: "status" }, "Nothing changed."));
      return;
    }
    await busy(form.querySelector("button"), async () => {
      plant = await api(`/api/v1/plants/${encodeURIComponent(plantId)}`, { method: "PATCH", body });
      fill();
      showHeader();
      status.replaceChildren(el("p", { class: "notice", role: "status" }, linked
        ? "Saved on the hub; it goes up to the cloud at the next sync (see the Sync page)."
        : "Saved."));
      await Promise.all([loadStatus(), loadCharts(), loadWatering()]);
    }, status);
  });
}

function showHeader() {
  document.title = `${plant.name} · Plant-Vita hub`;
  document.getElementById("plant-name").textContent = plant.name;
  document.getElementById("plant-meta").textContent = [
    plant.species_name, plant.location, plant.node_mac ? `node ${plant.node_mac}` : "no node assigned",
  ].filter(Boolean).join(" · ");
}

function setUpRanges() {
  for (const button of document.querySelectorAll("[data-range]")) {
    button.addEventListener("click", async () => {
      rangeDays = Number(button.dataset.range);
      for (const other of document.querySelectorAll("[data-range]")) other.setAttribute("aria-pressed", String(other === button));
      try {
        await loadCharts();
        announce(`Showing ${button.textContent}`);
      } catch (error) {
        showError(errorBox, error);
      }
    });
  }
}

async function main() {
  await loadUnits();
  try {
    plant = await api(`/api/v1/plants/${encodeURIComponent(plantId)}`);
  } catch (error) {
    document.getElementById("plant-name").textContent = "Plant not found";
    showError(errorBox, error);
    return;
  }
  showHeader();
  setUpRanges();
  setUpEdit().catch((error) => showError(errorBox, error));
  const results = await Promise.allSettled([loadStatus(), loadCharts(), loadImages(), loadAlerts(), loadWatering()]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) showError(errorBox, failed.reason);
  window.setInterval(() => {
    if (!document.hidden) loadStatus().catch(() => {});
  }, 30000);
}

main();
