// Garden overview: a card per plant, kept live by the hub's event stream.
import { api } from "./api.js";
import {
  PLANT_METRICS, METRICS, el, formatValue, percent, relativeTime,
} from "./format.js";
import { metricRange, nodeStateBadge, statusBadge, statusText } from "./status.js";
import { announce, busy, loadUnits, showError } from "./shell.js";

const cards = document.getElementById("cards");
const liveState = document.getElementById("live-state");
const liveText = document.getElementById("live-text");
const errorBox = document.getElementById("overview-error");
const radioBox = document.getElementById("radio-status");
let lastOverview = null;
let lastStatuses = new Map();

function metricRow(m) {
  const meta = METRICS[m.metric];
  return el(
    "li",
    { dataset: { metric: m.metric, status: m.status, measuredAt: m.measured_at || "" } },
    el("span", { class: "label" }, meta.label),
    el("span", { class: "value", dataset: { role: "value" } }, formatValue(m.metric, m.value)),
    statusBadge(m.status),
    el("span", { class: "range" }, metricRange(m)),
  );
}

function nodeNotice(view) {
  const { plant } = view;
  const repair = `/nodes#node-${encodeURIComponent(plant.node_mac || "")}`;
  if (view.node_state === "wrong_key") {
    return el("p", { class: "notice warn", dataset: { role: "node-state" } },
      `⚠ ${view.node_name || "The node"} sends data this hub cannot decrypt: it was paired with a wrong key.${view.metrics.some((m) => m.value != null) ? " The values shown are from before." : ""} `,
      el("a", { href: repair }, "Re-pair with the right key"));
  }
  if (view.node_state === "stale") {
    return el("p", { class: "notice", dataset: { role: "node-state" } },
      `⏱ ${view.node_name || "The node"} stopped reporting ${relativeTime(view.last_seen)}: these values are not current.`);
  }
  return null;
}

function card(view) {
  const { plant } = view;
  const title = el("h2", { id: `card-${plant.id}` }, el("a", { href: `/plants/${encodeURIComponent(plant.id)}` }, plant.name));
  const thumb = view.thumbnail_url
    ? el("img", { class: "thumb", src: view.thumbnail_url, alt: `Latest photo of ${plant.name}`, width: 84, height: 64, loading: "lazy" })
    : el("div", { class: "thumb", role: "img", "aria-label": "No photo yet" });
  const subtitle = [plant.species_name, plant.location].filter(Boolean).join(" · ");
  const byMetric = new Map(view.metrics.map((m) => [m.metric, m]));
  const metrics = el(
    "ul",
    { class: "metrics", "aria-label": `Latest readings of ${plant.name}` },
    PLANT_METRICS.filter((name) => byMetric.has(name)).map((name) => metricRow(byMetric.get(name))),
  );
  const facts = el(
    "dl",
    { class: "facts" },
    el("div", {}, el("dt", {}, "Battery"), el("dd", { dataset: { role: "battery" } }, view.battery == null ? "–" : `${Math.round(view.battery)} %`)),
    el("div", {}, el("dt", {}, "Last seen"), el("dd", { dataset: { role: "last-seen" }, title: view.last_seen || "" }, plant.node_mac ? relativeTime(view.last_seen) : "no node")),
    view.node_state ? el("div", {}, el("dt", {}, "Node"), el("dd", {}, nodeStateBadge(view.node_state))) : null,
    view.canopy_cover == null ? null : el("div", {}, el("dt", {}, "Canopy"), el("dd", {}, percent(view.canopy_cover))),
    view.watering && view.watering.status !== "unknown"
      ? el("div", {}, el("dt", {}, "Water"), el("dd", { dataset: { role: "watering", status: view.watering.status } }, view.watering.text.replace(/^Needs water /, "")))
      : null,
  );
  const alerts = view.open_alerts.length
    ? el(
      "ul",
      { class: "alerts", "aria-label": `Open alerts for ${plant.name}` },
      view.open_alerts.map((a) => el("li", { class: a.acknowledged_at ? "acknowledged" : "" }, `⚠ ${a.message}${a.acknowledged_at ? " (acknowledged)" : ""}`)),
    )
    : el("p", { class: "muted small" }, "No open alerts");
  return el(
    "article",
    { class: "card", dataset: { plantId: plant.id }, "aria-labelledby": `card-${plant.id}` },
    el("header", {}, thumb, el("div", {}, title, el("p", { class: "muted small" }, subtitle || "\u00a0"))),
    nodeNotice(view),
    metrics,
    facts,
    alerts,
  );
}

function announceChanges(overview) {
  const messages = [];
  const next = new Map();
  for (const view of overview.cards) {
    for (const m of view.metrics) {
      const key = `${view.plant.id}:${m.metric}`;
      next.set(key, m.status);
      const before = lastStatuses.get(key);
      if (before && before !== m.status) {
        messages.push(`${view.plant.name}: ${METRICS[m.metric].label.toLowerCase()} now ${statusText(m.status).toLowerCase()}`);
      }
    }
  }
  lastStatuses = next;
  if (messages.length) announce(messages.join(". "));
}

function render(overview) {
  lastOverview = overview;
  radioBox.replaceChildren(...(overview.radio_problem
    ? [el("p", { class: "notice warn", role: "status" }, `Bluetooth: ${overview.radio_problem}. The hub hears no node until this is fixed; stored data, the charts and sync still work.`)]
    : []), ...(overview.storage_problem
    ? [el("p", { class: "notice error", role: "alert", dataset: { role: "storage-problem" } }, `Storage: ${overview.storage_problem}. New readings are not stored on the hub until there is room; the nodes keep theirs and the hub fetches them later. Free space on the hub's card or lower the disk budget in Settings.`)]
    : []));
  cards.setAttribute("aria-busy", "false");
  if (!overview.cards.length) {
    cards.replaceChildren(
      el("p", { class: "notice" }, "No plants yet. Pair a node on the ", el("a", { href: "/nodes" }, "Nodes page"), ", then add a plant below (or link the hub to the cloud on the ", el("a", { href: "/sync" }, "Sync page"), ")."),
    );
  } else {
    const focused = document.activeElement && document.activeElement.closest("[data-plant-id]");
    const focusId = focused ? focused.dataset.plantId : null;
    cards.replaceChildren(...overview.cards.map(card));
    if (focusId) {
      const link = cards.querySelector(`[data-plant-id="${CSS.escape(focusId)}"] h2 a`);
      if (link) link.focus();
    }
  }
  cards.dataset.version = overview.version;
  announceChanges(overview);
  liveText.textContent = `Updated ${new Date(overview.generated_at).toLocaleTimeString()}`;
}

function setLive(on) {
  liveState.classList.toggle("on", on);
  if (!on) liveText.textContent = "Reconnecting…";
}

let pollTimer = null;

function connect() {
  if (!("EventSource" in window)) {
    pollTimer = window.setInterval(refresh, 10000);
    return;
  }
  const source = new EventSource("/api/v1/web/events");
  source.addEventListener("open", () => setLive(true));
  source.addEventListener("overview", (event) => {
    setLive(true);
    render(JSON.parse(event.data));
  });
  source.addEventListener("error", () => {
    // The stream ends every half minute by design and the browser reconnects at once.
    if (source.readyState === EventSource.CLOSED) setLive(false);
  });
}

async function refresh() {
  try {
    render(await api("/api/v1/web/overview"));
    errorBox.replaceChildren();
  } catch (error) {
    showError(errorBox, error);
  }
}

// Updates "last seen … ago" without waiting for the next event.
window.setInterval(() => {
  if (lastOverview) {
    for (const view of lastOverview.cards) {
      const cell = cards.querySelector(`[data-plant-id="${CSS.escape(view.plant.id)}"] [data-role="last-seen"]`);
      if (cell && view.plant.node_mac) cell.textContent = relativeTime(view.last_seen);
    }
  }
}, 15000);

async function setUpAddPlant() {
  const [link, nodes, species] = await Promise.all([
    api("/api/v1/link"), api("/api/v1/nodes"), api("/api/v1/species"),
  ]);
  if (link.linked) return; // plants are managed in the cloud once linked
  const section = document.getElementById("add-plant");
  const nodeSelect = document.getElementById("plant-node");
  const speciesSelect = document.getElementById("plant-species");
  for (const node of nodes.filter((n) => !n.plant_id)) {
    nodeSelect.append(el("option", { value: node.mac }, `${node.name || "Node"} (${node.mac})`));
  }
  for (const s of species) speciesSelect.append(el("option", { value: s.id }, `${s.common_name} (${s.scientific_name})`));
  section.hidden = false;
  const form = document.getElementById("add-plant-form");
  const status = document.getElementById("add-status");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { name: data.get("name").trim(), location: data.get("location").trim() || null };
    if (data.get("node")) body.node_mac = data.get("node");
    if (data.get("species")) body.species_id = Number(data.get("species"));
    await busy(form.querySelector("button"), async () => {
      const plant = await api("/api/v1/plants", { method: "POST", body });
      form.reset();
      const used = nodeSelect.querySelector(`option[value="${CSS.escape(plant.node_mac || "")}"]`);
      if (plant.node_mac && used) used.remove();
      status.replaceChildren(el("p", { class: "notice" }, `Added ${plant.name}.`));
      await refresh();
    }, status);
  });
}

await loadUnits();
await refresh();
connect();
setUpAddPlant().catch((error) => showError(errorBox, error));
