// Alerts: open and past ones, values in the account's units, acknowledge.
import { api } from "./client.js";
import { METRICS, dateTime, el, formatValue, relativeTime } from "./format.js";
import { account, announce, busy, page } from "./ui.js";

const KIND_WORDS = { low: "too low", high: "too high", stale: "no readings", low_battery: "battery low", data_dropped: "data dropped", disk_full: "hub disk full" };

/** What the alert is about, in the user's units when the value is a registry metric. */
export function alertText(a) {
  const meta = a.metric ? METRICS[a.metric] : null;
  if (meta && a.value != null && (a.kind === "low" || a.kind === "high")) {
    const side = a.kind === "low" ? "below" : "above";
    return `${meta.label} ${formatValue(a.metric, a.value)} — ${side} ${a.threshold != null ? formatValue(a.metric, a.threshold) : "the limit"}`;
  }
  if (a.kind === "low_battery" && a.value != null) return `Battery at ${formatValue("battery", a.value)}`;
  if (a.kind === "stale") return "The node has sent no readings for a while";
  return a.message;
}

export async function alertList(alerts, refresh, { showPlant = true, plants = {} } = {}) {
  if (!alerts.length) return el("p", { class: "muted" }, "No alerts.");
  return el("ul", { class: "alerts" }, alerts.map((a) => {
    const state = a.status === "resolved" ? `resolved ${relativeTime(a.resolved_at)}` : a.status === "acknowledged" ? "acknowledged" : "open";
    const plantName = showPlant && a.plant_id && plants[a.plant_id] ? plants[a.plant_id] : null;
    const item = el("li", { class: a.status === "open" ? "" : "acknowledged", dataset: { alertId: a.id, status: a.status } },
      el("span", {},
        a.status === "open" ? "⚠ " : "",
        plantName ? el("a", { href: `/app/plants/${encodeURIComponent(a.plant_id)}` }, plantName) : null,
        plantName ? ": " : "",
        `${alertText(a)} (${KIND_WORDS[a.kind] || a.kind}) — since ${dateTime(a.opened_at)}, ${state}`));
    if (a.status === "open") {
      const button = el("button", { type: "button", class: "secondary" }, "Acknowledge");
      button.addEventListener("click", () => busy(button, async () => {
        await api(`alerts/${encodeURIComponent(a.id)}/acknowledge`, { method: "POST" });
        announce("Alert acknowledged");
        await refresh();
      }));
      item.append(button);
    }
    return item;
  }));
}

export async function render() {
  await account();
  const openBox = el("div", { id: "open-alerts" });
  const pastBox = el("div", { id: "past-alerts" });
  page("Alerts",
    el("section", { "aria-labelledby": "open-heading" }, el("h2", { id: "open-heading" }, "Open"), openBox),
    el("section", { "aria-labelledby": "past-heading" }, el("h2", { id: "past-heading" }, "Acknowledged and past"), pastBox));
  const load = async () => {
    const [alerts, garden] = await Promise.all([api("alerts?limit=200"), api("garden")]);
    const plants = Object.fromEntries(garden.plants.map((c) => [c.plant.id, c.plant.name]));
    openBox.replaceChildren(await alertList(alerts.filter((a) => a.status === "open"), load, { plants }));
    pastBox.replaceChildren(await alertList(alerts.filter((a) => a.status !== "open"), load, { plants }));
  };
  await load();
}
