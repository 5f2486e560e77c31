// What every view of the app shares: the main element, announcements, errors, busy buttons,
// the signed-in user's units and locale.
import { api } from "./client.js";
import { el, loadMetrics, relativeTime, setLocale, setTemperatureUnit } from "./format.js";

export const main = () => document.getElementById("main");

/** Say something to screen-reader users (polite live region). */
export function announce(message) {
  const region = document.getElementById("announcer");
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = message;
  }, 50);
}

export function errorNotice(error) {
  const message = error && error.message ? error.message : String(error);
  return el("p", { class: "notice error", role: "alert" }, message);
}

export function showError(container, error) {
  container.replaceChildren(errorNotice(error));
}

/** Run an action from a button: disabled while busy, errors shown in `statusBox`. */
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

/** Page title and heading in one go. */
export function page(title, ...children) {
  document.title = `${title} · Plant-Vita`;
  const h1 = el("h1", {}, title);
  main().replaceChildren(h1, ...children);
  return h1;
}

let me = null;

/** The signed-in user (display preferences applied) and the metric registry, once per load. */
export async function account(force = false) {
  if (!me || force) {
    const [user] = await Promise.all([api("auth/me"), loadMetrics((path) => api(path))]);
    me = user;
    setTemperatureUnit(me.temperature_unit);
    setLocale(me.locale);
    if (me.locale) document.documentElement.lang = me.locale;
  }
  return me;
}

/** "waiting for the hub" while a change has not reached it. */
export function pendingBadge(text = "Waiting for the hub") {
  return el("span", { class: "pending", dataset: { role: "config-pending" }, title: "The hub takes changes on its next config pull" }, `↻ ${text}`);
}

export function ageText(ms) {
  return relativeTime(new Date(ms).toISOString());
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return [el("label", { for: id }, label), input, hint ? el("p", { class: "hint muted small" }, hint) : null];
}
