// Nodes: devices in range to pair, paired nodes with health, drops and their configuration.
import { api } from "./api.js";
import { dateTime, el, relativeTime } from "./format.js";
import { announce, busy, showError } from "./shell.js";
import { nodeStateBadge } from "./status.js";

const seenBox = document.getElementById("seen");
const pairedBox = document.getElementById("paired");
const errorBox = document.getElementById("nodes-error");
const radioBox = document.getElementById("radio-status");
const openPairForms = new Set();
const cards = new Map();

function signal(rssi) {
  if (rssi == null) return "–";
  const word = rssi >= -65 ? "strong" : rssi >= -80 ? "fair" : "weak";
  return `${rssi} dBm (${word})`;
}

function deviceKind(device) {
  if (device.kind === "xiaomi") return ` (Xiaomi ${device.model || "MiBeacon"})`;
  return device.plantvita ? " (Plant-Vita)" : " (BTHome)";
}

function pairForm(device) {
  const id = device.mac.replaceAll(":", "");
  const form = el("form", { class: "pair-form", dataset: { mac: device.mac } },
    el("label", { for: `key-${id}` }, `Bindkey for ${device.mac}`),
    el("input", {
      id: `key-${id}`, name: "bindkey", required: device.encrypted, pattern: "[0-9a-fA-F]{32}", maxlength: 32,
      autocomplete: "off", spellcheck: "false", class: "mono", "aria-describedby": `key-hint-${id}`,
      placeholder: device.encrypted ? "32 hexadecimal characters" : "not needed (unencrypted)",
    }),
    el("p", { class: "hint", id: `key-hint-${id}` }, device.kind === "xiaomi"
      ? "Xiaomi sensors that encrypt their adverts: the bindkey from the Mi Home cloud (a MiFlora needs none)."
      : "Printed on the node's label and shown by its setup tool."),
    el("label", { for: `name-${id}` }, "Name (optional)"),
    el("input", { id: `name-${id}`, name: "name", maxlength: 64, value: device.name || "" }),
    el("div", { class: "row actions" }, el("button", { type: "submit" }, "Pair node")),
    el("div", { class: "form-status", "aria-live": "polite" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { mac: device.mac, name: data.get("name").trim() || null, kind: device.kind || (device.plantvita ? "plantvita" : "bthome") };
    const key = data.get("bindkey").trim();
    if (key) body.bindkey = key;
    await busy(form.querySelector("button"), async () => {
      const node = await api("/api/v1/nodes", { method: "POST", body });
      openPairForms.delete(device.mac);
      announce(`Paired ${node.name || node.mac}`);
      await refresh();
    }, form.querySelector(".form-status"));
  });
  return form;
}

// Without a radio "none in range" would be a false all-clear: say why the hub hears nothing.
function renderRadio(problem) {
  radioBox.replaceChildren(...(problem
    ? [el("p", { class: "notice warn", role: "status" }, `Bluetooth: ${problem}. The hub hears no device until this is fixed, so none can be paired; stored data and sync still work.`)]
    : []));
}

function renderSeen(devices, radioProblem) {
  if (!devices.length) {
    seenBox.replaceChildren(el("p", { class: "muted" }, radioProblem
      ? "None heard: the hub's Bluetooth is not working (see above)."
      : "No unpaired devices in range right now."));
    return;
  }
  const rows = devices.map((d) => {
    const toggle = el("button", { type: "button", class: "secondary", "aria-expanded": String(openPairForms.has(d.mac)) }, "Pair…");
    const row = el("tr", { dataset: { mac: d.mac } },
      el("td", { "data-label": "Device" }, d.name || "unnamed", deviceKind(d)),
      el("td", { "data-label": "Address", class: "mono" }, d.mac),
      el("td", { "data-label": "Signal" }, signal(d.rssi)),
      el("td", { "data-label": "Encrypted" }, d.encrypted ? "yes" : "no"),
      el("td", { "data-label": "Heard" }, relativeTime(d.last_seen)),
      el("td", { "data-label": "" }, toggle));
    const formRow = el("tr", { class: "pair-row", hidden: !openPairForms.has(d.mac) }, el("td", { colspan: 6 }, pairForm(d)));
    toggle.addEventListener("click", () => {
      const open = formRow.hidden;
      formRow.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) {
        openPairForms.add(d.mac);
        formRow.querySelector("input").focus();
      } else openPairForms.delete(d.mac);
    });
    return [row, formRow];
  });
  seenBox.replaceChildren(el("table", { class: "stack" },
    el("thead", {}, el("tr", {}, ["Device", "Address", "Signal", "Encrypted", "Heard", ""].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.flat())));
}

function configForm(node) {
  const id = node.mac.replaceAll(":", "");
  const cfg = node.config || {};
  const camera = cfg.camera_interval_s;
  const form = el("form", { class: "config-form" },
    el("h3", {}, "Configuration"),
    el("label", { for: `sampling-${id}` }, "Measure every (seconds)"),
    el("input", { id: `sampling-${id}`, name: "sampling_interval_s", type: "number", min: 10, max: 86400, required: true, value: cfg.sampling_interval_s ?? 600, inputmode: "numeric" }),
    el("label", { for: `camera-${id}` }, "Take a photo every (hours; empty: camera off)"),
    el("input", { id: `camera-${id}`, name: "camera_hours", type: "number", min: 0.5, max: 168, step: 0.5, value: camera ? camera / 3600 : "", inputmode: "decimal" }),
    el("div", { class: "row actions" }, el("button", { type: "submit" }, "Send to node")),
    el("div", { class: "form-status", "aria-live": "polite" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const hours = data.get("camera_hours");
    const body = {
      sampling_interval_s: Number(data.get("sampling_interval_s")),
      camera_interval_s: hours === "" ? null : Math.round(Number(hours) * 3600),
    };
    await busy(form.querySelector("button"), async () => {
      const updated = await api(`/api/v1/nodes/${encodeURIComponent(node.mac)}/config`, { method: "PATCH", body });
      announce(`Configuration revision ${updated.config_revision} saved; waiting for the node to confirm.`);
      updateCard(updated);
    }, form.querySelector(".form-status"));
  });
  return form;
}

function revisionText(node) {
  if (!node.config) return "Running its own defaults (no configuration sent yet).";
  const applied = node.config_revision_applied;
  if (!node.config_pending) return `Node confirmed revision ${applied}.`;
  return `Wanted revision ${node.config_revision}; node has applied ${applied == null ? "none yet" : `revision ${applied}`} — it confirms at its next connection.`;
}

const KIND_NAMES = { plantvita: "Plant-Vita node", bthome: "BTHome sensor", xiaomi: "Xiaomi sensor (MiBeacon)" };

function facts(node) {
  const d = node.drops;
  return [
    ["Device", KIND_NAMES[node.kind] || node.kind],
    ["State", nodeStateBadge(node.state)],
    ["Battery", node.battery == null ? "–" : `${Math.round(node.battery)} %`],
    ["Signal", signal(node.rssi)],
    ["Last seen", node.last_seen ? `${relativeTime(node.last_seen)} (${dateTime(node.last_seen)})` : "never"],
    ["Firmware", node.firmware_version || "unknown"],
    ["Waiting on the node", node.readings_held ? `${node.readings_held} readings, fetched at its next connection` : "none"],
    ["Adverts heard", `stored ${d.stored}, duplicate ${d.duplicate}, replayed ${d.replayed}, wrong key ${d.wrong_key}, unsupported object ${d.unsupported_object}, unsupported device ${d.unsupported_device}, malformed ${d.malformed}`],
    ["Plant", node.plant_id ? el("a", { href: `/plants/${encodeURIComponent(node.plant_id)}` }, "open plant") : "none assigned"],
  ];
}

function repairForm(node) {
  const id = node.mac.replaceAll(":", "");
  const form = el("form", { class: "repair-form" },
    el("p", { class: "notice warn", role: "alert" },
      `⚠ Wrong key: this node's adverts do not decrypt with the key it was paired with${node.wrong_key_at ? ` (last failed ${relativeTime(node.wrong_key_at)})` : ""}. Its readings are not stored until it is re-paired with the key on its label.`),
    el("label", { for: `rekey-${id}` }, `Correct bindkey for ${node.mac}`),
    el("input", { id: `rekey-${id}`, name: "bindkey", required: true, pattern: "[0-9a-fA-F]{32}", maxlength: 32, autocomplete: "off", spellcheck: "false", class: "mono", placeholder: "32 hexadecimal characters" }),
    el("div", { class: "row actions" }, el("button", { type: "submit" }, "Re-pair")),
    el("div", { class: "form-status", "aria-live": "polite" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { mac: node.mac, kind: node.kind, name: node.name, bindkey: new FormData(form).get("bindkey").trim() };
    await busy(form.querySelector("button"), async () => {
      await api("/api/v1/nodes", { method: "POST", body });
      announce(`Re-paired ${node.name || node.mac}; waiting for its next advert.`);
      await refresh();
    }, form.querySelector(".form-status"));
  });
  return form;
}

function updateCard(node) {
  const card = cards.get(node.mac);
  if (!card) return;
  const slot = card.querySelector(".repair-slot");
  const wrong = node.state === "wrong_key";
  if (wrong && !slot.firstChild) {
    slot.replaceChildren(repairForm(node));
    if (location.hash === `#node-${node.mac}` || location.hash === `#node-${encodeURIComponent(node.mac)}`) slot.querySelector("input").focus();
  } else if (!wrong && slot.firstChild) slot.replaceChildren();
  card.querySelector(".node-facts").replaceChildren(
    ...facts(node).map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))),
  );
  const rev = card.querySelector(".revision");
  if (!rev) return;
  rev.textContent = revisionText(node);
  rev.dataset.wanted = node.config_revision;
  rev.dataset.applied = node.config_revision_applied ?? "";
  rev.dataset.pending = String(node.config_pending);
}

function newCard(node) {
  const title = node.name || "Node";
  const unpair = el("button", { type: "button", class: "danger" }, "Unpair");
  const status = el("div", { "aria-live": "polite" });
  unpair.addEventListener("click", () => busy(unpair, async () => {
    if (!window.confirm(`Unpair ${title} (${node.mac})? Its stored readings stay.`)) return;
    await api(`/api/v1/nodes/${encodeURIComponent(node.mac)}`, { method: "DELETE" });
    announce(`Unpaired ${title}`);
    await refresh();
  }, status));
  const card = el("article", { class: "card node", id: `node-${node.mac}`, dataset: { mac: node.mac }, "aria-label": `${title} ${node.mac}` },
    el("h3", {}, title, " ", el("span", { class: "muted small mono" }, node.mac)),
    el("div", { class: "repair-slot" }),
    el("dl", { class: "facts node-facts" }),
    ...(node.kind === "xiaomi"
      ? [el("p", { class: "muted" }, "A Xiaomi sensor runs its own schedule: the hub listens to its adverts, and reads a MiFlora's battery and current values over Bluetooth once a day (hourly while its adverts leave a value out).")]
      : [el("p", { class: "revision", role: "status" }), configForm(node)]),
    el("div", { class: "row actions" }, unpair),
    status);
  cards.set(node.mac, card);
  return card;
}

function renderPaired(nodes) {
  const keep = new Set(nodes.map((n) => n.mac));
  for (const mac of [...cards.keys()]) if (!keep.has(mac)) cards.delete(mac);
  if (!nodes.length) {
    pairedBox.replaceChildren(el("p", { class: "muted" }, "No paired nodes yet."));
    return;
  }
  const list = nodes.map((n) => cards.get(n.mac) || newCard(n));
  // Re-attach only when the set changed so a half-typed config form keeps its focus and value.
  const current = [...pairedBox.children];
  if (current.length !== list.length || current.some((c, i) => c !== list[i])) pairedBox.replaceChildren(...list);
  for (const node of nodes) updateCard(node);
}

async function refresh() {
  try {
    const [seen, nodes, radio] = await Promise.all([
      api("/api/v1/nodes/seen"), api("/api/v1/nodes"), api("/api/v1/nodes/radio"),
    ]);
    renderRadio(radio.problem);
    const focused = document.activeElement;
    const typing = focused && seenBox.contains(focused) && focused.tagName === "INPUT";
    if (!typing) renderSeen(seen, radio.problem);
    renderPaired(nodes);
    errorBox.replaceChildren();
  } catch (error) {
    showError(errorBox, error);
  }
}

await refresh();
window.setInterval(() => {
  if (!document.hidden) refresh();
}, 3000);
