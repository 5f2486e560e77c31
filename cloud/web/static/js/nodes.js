// Nodes: name, battery, last seen, which plant each watches; rename. Assigning a node to a
// plant is on the plant's edit page (one place for that rule).
import { api } from "./client.js";
import { dateTime, el, formatValue, relativeTime } from "./format.js";
import { account, announce, busy, field, page, pendingBadge } from "./ui.js";

function nodeItem(node, plantName, hubName, refresh) {
  const input = el("input", { name: "name", maxlength: 64, value: node.name || "", autocomplete: "off" });
  const status = el("div", { "aria-live": "polite" });
  const save = el("button", { type: "submit", class: "secondary" }, "Rename");
  const form = el("form", { class: "row" }, ...field(`Name of ${node.mac}`, input), save);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(save, async () => {
      await api(`nodes/${encodeURIComponent(node.id)}`, { method: "PATCH", body: { name: input.value.trim() || null } });
      announce("Node renamed");
      await refresh();
    }, status);
  });
  return el("article", { class: "card", dataset: { nodeId: node.id } },
    el("h2", {}, node.name || node.mac),
    el("dl", { class: "facts" },
      el("div", {}, el("dt", {}, "MAC"), el("dd", { class: "mono" }, node.mac)),
      el("div", {}, el("dt", {}, "Hub"), el("dd", {}, hubName || "none")),
      el("div", {}, el("dt", {}, "Watches"), el("dd", {}, plantName || "no plant")),
      el("div", {}, el("dt", {}, "Battery"), el("dd", {}, formatValue("battery", node.battery))),
      el("div", {}, el("dt", {}, "Last seen"), el("dd", { title: dateTime(node.last_seen_at) }, relativeTime(node.last_seen_at))),
      node.advert_counts ? el("div", { dataset: { role: "adverts" } }, el("dt", {}, "Adverts heard"), el("dd", {}, advertText(node.advert_counts))) : null),
    node.config_pending ? pendingBadge("Settings waiting for the node") : null,
    form, status);
}

// What became of the node's adverts on its hub (docs/hub-ble.md): each ends in one count.
const OUTCOME_WORDS = [
  ["stored", "stored"], ["duplicate", "duplicate"], ["replayed", "replayed"], ["wrong_key", "wrong key"],
  ["unsupported_object", "unsupported object"], ["unsupported_device", "unsupported device"], ["malformed", "malformed"],
];

function advertText(counts) {
  return OUTCOME_WORDS.filter(([key], i) => i < 2 || counts[key]).map(([key, words]) => `${counts[key]} ${words}`).join(" · ");
}

export async function render() {
  await account();
  const box = el("div", { class: "cards", id: "nodes" });
  page("Nodes", el("p", { class: "muted" }, "Nodes appear here once a hub has paired them."), box);
  const load = async () => {
    const [nodes, garden] = await Promise.all([api("nodes?limit=500"), api("garden")]);
    const plants = Object.fromEntries(garden.plants.filter((c) => c.plant.node_id).map((c) => [c.plant.node_id, c.plant.name]));
    const hubs = Object.fromEntries(garden.hubs.map((h) => [h.id, h.name]));
    box.replaceChildren(...(nodes.length ? nodes.map((n) => nodeItem(n, plants[n.id], hubs[n.hub_id], load)) : [el("p", { class: "muted" }, "No nodes yet.")]));
  };
  await load();
}
