// Add or edit a plant: name, place, species, the node watching it, and every threshold
// (min < max checked here with a clear message, and again by the API). Changes reach the hub
// on its next config pull; the garden shows "waiting for the hub" until it has them.
import { api, apiAll } from "./client.js";
import { METRICS, PLANT_METRICS, convert, el, thresholdField, unitOf } from "./format.js";
import { account, announce, busy, errorNotice, field, page } from "./ui.js";

const toCelsius = (metric, value) => (unitOf(metric) === "°F" ? ((value - 32) * 5) / 9 : value);

const allNodes = () => apiAll("nodes?limit=500");

function limitRows(plant, speciesThresholds) {
  const inputs = {};
  const rows = PLANT_METRICS.map((metric) => {
    const cells = ["min", "max"].map((side) => {
      const key = thresholdField(metric, side);
      const own = plant && plant.overrides ? plant.overrides[key] : null;
      const base = speciesThresholds ? speciesThresholds[key] : null;
      const shown = (v) => (v == null ? "" : String(+convert(metric, v).toFixed(2)));
      const input = el("input", {
        type: "number", step: "any", name: key, inputmode: "decimal",
        value: shown(own), placeholder: base == null ? "none" : `${shown(base)} (species)`,
      });
      inputs[key] = input;
      return field(`${side === "min" ? "From" : "Up to"} (${unitOf(metric)})`, input);
    });
    return el("fieldset", { class: "limits", dataset: { metric } }, el("legend", {}, METRICS[metric].label), ...cells.flat());
  });
  return { rows, inputs };
}

function readLimits(inputs, speciesThresholds) {
  const overrides = {};
  for (const [key, input] of Object.entries(inputs)) {
    if (input.value.trim() !== "") {
      const metric = PLANT_METRICS.find((m) => key === thresholdField(m, "min") || key === thresholdField(m, "max"));
      overrides[key] = toCelsius(metric, Number(input.value));
    }
  }
  for (const metric of PLANT_METRICS) {
    const lowKey = thresholdField(metric, "min");
    const highKey = thresholdField(metric, "max");
    const low = overrides[lowKey] ?? (speciesThresholds ? speciesThresholds[lowKey] : null);
    const high = overrides[highKey] ?? (speciesThresholds ? speciesThresholds[highKey] : null);
    if (low != null && high != null && low >= high) {
      inputs[lowKey].setAttribute("aria-invalid", "true");
      inputs[lowKey].focus();
      throw new Error(`${METRICS[metric].label}: "From" must be below "Up to".`);
    }
    inputs[lowKey].removeAttribute("aria-invalid");
  }
  return Object.keys(overrides).length ? overrides : null;
}

export async function render(name, [plantId]) {
  await account();
  const editing = name === "edit";
  const [plant, species, nodes] = await Promise.all([
    editing ? api(`plants/${encodeURIComponent(plantId)}`) : null,
    apiAll("species?limit=500"),
    allNodes(),
  ]);
  const speciesById = Object.fromEntries(species.map((s) => [s.id, s]));
  const nameInput = el("input", { name: "name", required: true, maxlength: 100, value: plant ? plant.name : "", autocomplete: "off" });
  const locationInput = el("input", { name: "location", maxlength: 200, value: plant && plant.location ? plant.location : "", autocomplete: "off" });
  const speciesSelect = el("select", { name: "species" }, el("option", { value: "" }, "Not set"),
    species.map((s) => el("option", { value: s.id, selected: plant && plant.species_id === s.id }, `${s.common_name} (${s.scientific_name})`)));
  const nodeSelect = el("select", { name: "node" }, el("option", { value: "" }, "None"),
    nodes.map((n) => el("option", { value: n.id, selected: plant && plant.node_id === n.id }, n.name ? `${n.name} (${n.mac})` : n.mac)));
  const limitsBox = el("div");
  let limits = null;
  const drawLimits = () => {
    const chosen = speciesById[speciesSelect.value];
    limits = limitRows(plant, chosen ? chosen.thresholds : null);
    limitsBox.replaceChildren(...limits.rows);
  };
  speciesSelect.addEventListener("change", drawLimits);
  drawLimits();
  const status = el("div", { "aria-live": "polite", id: "save-status" });
  const save = el("button", { type: "submit" }, editing ? "Save changes" : "Add plant");
  const form = el("form", { class: "panel", id: "plant-form" },
    ...field("Name", nameInput), ...field("Where it grows (optional)", locationInput),
    ...field("Species", speciesSelect, "The species sets the ranges below unless you set your own."),
    ...field("Node watching it", nodeSelect),
    el("h2", {}, "Thresholds"), el("p", { class: "hint muted small" }, "Leave a field empty to use the species' value."),
    limitsBox, el("div", { class: "row actions" }, save), status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(save, async () => {
      const chosen = speciesById[speciesSelect.value];
      const body = {
        name: nameInput.value.trim(),
        location: locationInput.value.trim() || null,
        species_id: speciesSelect.value ? Number(speciesSelect.value) : null,
        node_id: nodeSelect.value || null,
        overrides: readLimits(limits.inputs, chosen ? chosen.thresholds : null),
      };
      const saved = editing
        ? await api(`plants/${encodeURIComponent(plant.id)}`, { method: "PATCH", body })
        : await api("plants", { method: "POST", body });
      announce("Saved. The hub takes the change on its next config pull.");
      status.replaceChildren(el("p", { class: "notice", role: "status" }, "Saved — waiting for the hub to take the change."));
      if (!editing) window.location.assign(`/app/plants/${encodeURIComponent(saved.id)}`);
    }, status);
  });
  const extra = [];
  if (editing) {
    const remove = el("button", { type: "button", class: "danger" }, "Delete this plant");
    const removeStatus = el("div", { "aria-live": "polite" });
    remove.addEventListener("click", () => {
      if (!window.confirm(`Delete ${plant.name}? Its node and readings stay.`)) return;
      busy(remove, async () => {
        await api(`plants/${encodeURIComponent(plant.id)}`, { method: "DELETE" });
        window.location.assign("/app/");
      }, removeStatus);
    });
    extra.push(el("section", { class: "panel" }, el("h2", {}, "Delete"), remove, removeStatus));
  }
  page(editing ? `Edit ${plant.name}` : "Add a plant", form, ...extra);
  if (!species.length) form.prepend(errorNotice(new Error("The species catalogue is empty.")));
}
