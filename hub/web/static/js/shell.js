// What every page shares: the live region, the temperature unit, error display.
import { api } from "./api.js";
import { el, loadMetrics, setTemperatureUnit } from "./format.js";

/** Say something to screen-reader users (polite live region). */
export function announce(message) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = message;
  }, 50);
}

/** Load the metric list and the hub's display settings (the temperature unit) before rendering. */
export async function loadUnits() {
  const metrics = loadMetrics(api);
  let settings = null;
  try {
    settings = await api("/api/v1/web/settings");
    setTemperatureUnit(settings.temperature_unit);
  } catch {
    settings = null;
  }
  await metrics;
  return settings;
}

/** Show an error message in a container (role=alert so it is read out). */
export function showError(container, error) {
  const message = error && error.message ? error.message : String(error);
  container.replaceChildren(el("p", { class: "notice error", role: "alert" }, message));
}

/** Run an action from a button: disabled while busy, errors shown next to it. */
export async function busy(button, action, statusBox) {
  button.disabled = true;
  if (statusBox) statusBox.replaceChildren();
  try {
    return await action();
  } catch (error) {
    if (statusBox) showError(statusBox, error);
    else announce(error.message);
    return undefined;
  } finally {
    button.disabled = false;
  }
}
