// The garden: each hub with its sync health, each plant with its latest values and status in
// the hub UI's words and colours (status.js), open alerts, and "waiting for the hub".
import { api } from "./client.js";
import { METRICS, PLANT_METRICS, dateTime, el, formatValue, getLocale, relativeTime } from "./format.js";
import { metricRange, statusBadge } from "./status.js";
import { account, page, pendingBadge } from "./ui.js";

const PENDING_WORDS = {
  readings: ["reading", "readings"], alerts: ["alert", "alerts"], nodes: ["node", "nodes"],
  image_slots: ["photo to announce", "photos to announce"], image_bytes: ["photo to upload", "photos to upload"],
  plant_edits: ["plant edit", "plant edits"],
};

/** What the hub said is still waiting to reach the cloud, at its last sync. */
function pendingText(hub) {
  if (!hub.pending) return "Pending items: not reported yet";
  if (!hub.pending_total) return "Nothing waiting to be sent";
  const parts = Object.entries(hub.pending).filter(([, n]) => n > 0)
    .map(([kind, n]) => `${n.toLocaleString(getLocale())} ${(PENDING_WORDS[kind] || [kind, kind])[n === 1 ? 0 : 1]}`);
  const oldest = hub.oldest_pending_reading_at ? `, oldest reading from ${relativeTime(hub.oldest_pending_reading_at)}` : "";
  return `Waiting to be sent: ${parts.join(", ")}${oldest}`;
}

function hubItem(hub) {
  const state = !hub.linked ? "unlinked" : hub.online ? "online" : "offline";
  const words = { online: "✓ Online", offline: "⚠ Offline", unlinked: "– Unlinked" }[state];
  const tone = { online: "ok", offline: "high", unlinked: "unknown" }[state];
  return el("li", { dataset: { hubId: hub.id, state } },
    el("strong", {}, hub.name), " ",
    el("span", { class: `status ${tone}` }, words),
    el("p", { class: "muted small", title: hub.last_seen_at ? dateTime(hub.last_seen_at) : "" },
      `Last sync ${relativeTime(hub.last_seen_at)}`,
      hub.last_seen_at ? ` (${dateTime(hub.last_seen_at)})` : ""),
    el("p", { class: "small", dataset: { role: "pending", total: hub.pending_total ?? "" } }, pendingText(hub)),
    hub.last_sync_error ? el("p", { class: "notice warn small", dataset: { role: "sync-error" } }, `⚠ Last sync failed: ${hub.last_sync_error}`) : null,
    hub.config_pending ? pendingBadge() : el("p", { class: "muted small" }, `Config revision ${hub.config_revision} taken by the hub`));
}

function plantCard(card) {
  const { plant, status, node } = card;
  const metrics = status.metrics.filter((m) => PLANT_METRICS.includes(m.metric));
  return el("article", { class: "card", dataset: { plantId: plant.id } },
    el("header", {},
      el("h2", {}, el("a", { href: `/app/plants/${encodeURIComponent(plant.id)}` }, plant.name)),
      el("p", { class: "muted small" },
        [plant.species_name, plant.location].filter(Boolean).join(" · ") || "No species set")),
    card.config_pending ? pendingBadge() : null,
    el("ul", { class: "metrics" }, metrics.map((m) => el("li", { dataset: { metric: m.metric, status: m.status } },
      el("span", {}, METRICS[m.metric].label),
      el("span", { class: "value" }, formatValue(m.metric, m.value)),
      statusBadge(m.status),
      el("span", { class: "range muted small" }, metricRange(m))))),
    el("p", { class: "muted small" },
      node ? `${node.name || node.mac} · battery ${formatValue("battery", node.battery)} · measured ${relativeTime(status.measured_at)}` : "No node watches this plant yet"),
    card.open_alerts
      ? el("p", {}, el("a", { href: `/app/plants/${encodeURIComponent(plant.id)}#alerts`, class: "status high" },
        `⚠ ${card.open_alerts} open alert${card.open_alerts > 1 ? "s" : ""}`))
      : null);
}

export async function render() {
  await account();
  const garden = await api("garden");
  const hubs = garden.hubs.length
    ? el("ul", { class: "hubs", "aria-label": "Hubs" }, garden.hubs.map(hubItem))
    : el("p", { class: "muted" }, "No hub linked yet. On your hub run ", el("code", {}, "plantvita link"),
      " (or open its Sync page) and approve the code it shows here.");
  const cards = garden.plants.length
    ? el("div", { class: "cards" }, garden.plants.map(plantCard))
    : el("p", { class: "muted" }, "No plants yet.");
  page("Your garden",
    el("section", { "aria-labelledby": "hubs-heading" }, el("h2", { id: "hubs-heading" }, "Gardens (hubs)"), hubs),
    el("section", { "aria-labelledby": "plants-heading" },
      el("div", { class: "row spread" }, el("h2", { id: "plants-heading" }, "Plants"),
        el("a", { class: "button", href: "/app/plants/new" }, "Add a plant")),
      cards),
    el("p", { class: "muted small" }, `Updated ${dateTime(garden.generated_at)}`));
}
