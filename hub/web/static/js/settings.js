// Settings: temperature unit, disk budget, admin password.
import { api } from "./api.js";
import { bytes, el } from "./format.js";
import { busy, showError } from "./shell.js";

const errorBox = document.getElementById("settings-error");

function done(box, text) {
  box.replaceChildren(el("p", { class: "notice", role: "status" }, text));
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
