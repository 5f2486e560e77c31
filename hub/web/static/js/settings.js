// Settings: temperature unit, disk budget, Home Assistant (MQTT), admin password.
import { api } from "./api.js";
import { bytes, el } from "./format.js";
import { busy, showError } from "./shell.js";

const errorBox = document.getElementById("settings-error");

function done(box, text) {
  box.replaceChildren(el("p", { class: "notice", role: "status" }, text));
}

const MQTT_STATES = {
  off: "Not publishing to Home Assistant: no broker is set.",
  connecting: "Connecting to the broker…",
  connected: "Connected: Home Assistant sees the garden.",
  disconnected: "Not connected.",
};

function mqttStateText(mqtt) {
  const status = mqtt.status;
  let text = MQTT_STATES[status.state] || status.state;
  if (status.broker && status.state !== "off") text += ` Broker ${status.broker}.`;
  if (status.state !== "connected" && status.state !== "off" && status.last_error) {
    text += ` Last error: ${status.last_error}.`;
  }
  if (status.state === "connected" && status.messages_published) {
    text += ` ${status.messages_published} messages published.`;
  }
  return text;
}

function showMqtt(mqtt) {
  const form = document.getElementById("mqtt-form");
  form.elements.host.value = mqtt.host || "";
  form.elements.port.value = mqtt.port;
  form.elements.tls.checked = mqtt.tls;
  form.elements.ca_file.value = mqtt.ca_file || "";
  form.elements.username.value = mqtt.username || "";
  form.elements.password.value = "";
  form.elements.discovery_prefix.value = mqtt.discovery_prefix;
  document.getElementById("mqtt-password-hint").textContent = mqtt.password_set
    ? "A password is saved. Leave this empty to keep it."
    : "No password saved.";
  const state = document.getElementById("mqtt-state");
  state.textContent = mqttStateText(mqtt);
  state.className = mqtt.status.state === "disconnected" ? "notice warn" : "muted";
}

async function loadMqtt() {
  showMqtt(await api("/api/v1/mqtt"));
}

async function load() {
  const [settings, auth] = await Promise.all([api("/api/v1/web/settings"), api("/api/v1/auth")]);
  const unitsForm = document.getElementById("units-form");
  unitsForm.elements.temperature_unit.value = settings.temperature_unit;
  const diskForm = document.getElementById("disk-form");
  diskForm.elements.disk_budget_mb.value = Math.round(settings.disk_budget_mb);
  document.getElementById("disk-used").textContent = `In use now: ${bytes(settings.disk_used_bytes)} of ${bytes(settings.disk_budget_mb * 1024 * 1024)}.`;
  document.getElementById("password-state").textContent = auth.password_set
    ? auth.authenticated ? "You are logged in as the admin." : "An admin password is set. You will be asked for it when you change something."
    : "No admin password yet: choose one now.";
  document.getElementById("current-wrap").hidden = !auth.password_set;
  document.getElementById("logout").hidden = !auth.authenticated;
  await loadMqtt();
}

document.getElementById("units-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const box = document.getElementById("units-status");
  await busy(form.querySelector("button"), async () => {
    const saved = await api("/api/v1/web/settings", { method: "PATCH", body: { temperature_unit: form.elements.temperature_unit.value } });
    done(box, `Temperatures now show in °${saved.temperature_unit}.`);
  }, box);
});

document.getElementById("disk-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const box = document.getElementById("disk-status");
  await busy(form.querySelector("button"), async () => {
    const saved = await api("/api/v1/web/settings", { method: "PATCH", body: { disk_budget_mb: Number(form.elements.disk_budget_mb.value) } });
    done(box, `Disk budget set to ${bytes(saved.disk_budget_mb * 1024 * 1024)}.`);
    await load();
  }, box);
});

async function saveMqtt(body) {
  const saved = await api("/api/v1/mqtt", { method: "PUT", body });
  showMqtt(saved);
  // The hub connects in the background: show how it went a moment later.
  for (const wait of [500, 1500, 3000]) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    const now = await api("/api/v1/mqtt");
    showMqtt(now);
    if (now.status.state !== "connecting") break;
  }
  return saved;
}

document.getElementById("mqtt-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const box = document.getElementById("mqtt-status");
  await busy(form.querySelector("button[type=submit]"), async () => {
    const body = {
      host: form.elements.host.value.trim(),
      port: Number(form.elements.port.value),
      tls: form.elements.tls.checked,
      ca_file: form.elements.ca_file.value.trim() || null,
      username: form.elements.username.value.trim() || null,
      discovery_prefix: form.elements.discovery_prefix.value.trim(),
    };
    // An empty password field keeps the saved one.
    if (form.elements.password.value) body.password = form.elements.password.value;
    const saved = await saveMqtt(body);
    done(box, saved.host ? `Saved: the hub publishes to ${saved.host}:${saved.port}.` : "Saved: not publishing to Home Assistant.");
  }, box);
});

document.getElementById("mqtt-off").addEventListener("click", async (event) => {
  const form = document.getElementById("mqtt-form");
  const box = document.getElementById("mqtt-status");
  await busy(event.currentTarget, async () => {
    await saveMqtt({
      host: "",
      port: Number(form.elements.port.value) || 1883,
      discovery_prefix: form.elements.discovery_prefix.value.trim() || "homeassistant",
    });
    done(box, "The hub no longer publishes to Home Assistant.");
  }, box);
});

document.getElementById("password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = document.getElementById("password-status");
  const current = document.getElementById("current-password");
  const next = document.getElementById("new-password").value;
  if (next !== document.getElementById("repeat-password").value) {
    showError(box, new Error("The two new passwords differ."));
    return;
  }
  await busy(event.currentTarget.querySelector("button"), async () => {
    const body = { password: next };
    // Logged in, the session is enough; otherwise the current password proves it is the admin.
    if (!document.getElementById("current-wrap").hidden && current.value) body.current_password = current.value;
    await api("/api/v1/auth/password", { method: "POST", body, askPassword: false });
    await api("/api/v1/auth/login", { method: "POST", body: { password: next }, askPassword: false });
    event.target.reset();
    done(box, "Password saved.");
    await load();
  }, box);
});

document.getElementById("logout").addEventListener("click", async (event) => {
  await busy(event.currentTarget, async () => {
    await api("/api/v1/auth/logout", { method: "POST" });
    await load();
  }, document.getElementById("password-status"));
});

load().catch((error) => showError(errorBox, error));
