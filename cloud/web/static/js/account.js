// Account: units and locale, notifications, password, signed-in sessions with revoke, sign out.
import { api, sessionId, signOut } from "./client.js";
import { dateTime, el, relativeTime } from "./format.js";
import { browserTimeZone, panel as notificationsPanel } from "./notifications.js";
import { account, announce, busy, field, page } from "./ui.js";

function displayForm(me) {
  const unit = el("select", { name: "temperature_unit" },
    el("option", { value: "C", selected: me.temperature_unit === "C" }, "°C (Celsius)"),
    el("option", { value: "F", selected: me.temperature_unit === "F" }, "°F (Fahrenheit)"));
  const locale = el("input", { name: "locale", maxlength: 35, value: me.locale || "", placeholder: navigator.language, autocomplete: "off" });
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const zone = el("input", { name: "time_zone", maxlength: 64, value: me.time_zone || "", placeholder: browserTimeZone(), autocomplete: "off", list: "time-zones" });
  const status = el("div", { "aria-live": "polite" });
  const save = el("button", { type: "submit" }, "Save");
  const form = el("form", { class: "panel", id: "display-form" }, el("h2", {}, "Display"),
    ...field("Temperature unit", unit),
    ...field("Language and region for dates (e.g. en-GB, de)", locale, "Empty: your browser's."),
    ...field("Time zone (e.g. Europe/Berlin)", zone, "Your day for the daily e-mail digest. Empty: UTC."),
    el("datalist", { id: "time-zones" }, zones.map((name) => el("option", { value: name }))),
    el("div", { class: "row actions" }, save), status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(save, async () => {
      await api("auth/me", { method: "PATCH", body: { temperature_unit: unit.value, locale: locale.value.trim() || null, time_zone: zone.value.trim() || null } });
      await account(true);
      status.replaceChildren(el("p", { class: "notice", role: "status" }, "Saved."));
    }, status);
  });
  return form;
}

function passwordForm() {
  const current = el("input", { type: "password", name: "current_password", required: true, autocomplete: "current-password" });
  const next = el("input", { type: "password", name: "new_password", required: true, minlength: 10, autocomplete: "new-password" });
  const status = el("div", { "aria-live": "polite" });
  const save = el("button", { type: "submit" }, "Change password");
  const form = el("form", { class: "panel", id: "password-form" }, el("h2", {}, "Password"),
    ...field("Current password", current), ...field("New password", next, "At least 10 characters. Other devices are signed out."),
    el("div", { class: "row actions" }, save), status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(save, async () => {
      await api("auth/password", { method: "POST", body: { current_password: current.value, new_password: next.value } });
      await signOut();
      window.location.assign("/app/signin?changed=1");
    }, status);
  });
  return form;
}

async function sessionsPanel() {
  const box = el("section", { class: "panel", id: "sessions" });
  const load = async () => {
    const sessions = await api("auth/sessions");
    const mine = sessionId();
    box.replaceChildren(el("h2", {}, "Signed-in devices"), el("ul", { class: "sessions" }, sessions.map((s) => {
      const status = el("span", { "aria-live": "polite" });
      const revoke = el("button", { type: "button", class: "secondary" }, s.id === mine ? "Sign out here" : "Sign out");
      revoke.addEventListener("click", () => busy(revoke, async () => {
        await api(`auth/sessions/${encodeURIComponent(s.id)}`, { method: "DELETE" });
        if (s.id === mine) {
          await signOut();
          window.location.assign("/app/signin");
          return;
        }
        announce("Session signed out");
        await load();
      }, status));
      return el("li", { dataset: { sessionId: s.id } },
        el("span", {}, el("strong", {}, s.id === mine ? "This device" : s.user_agent || "Unknown device"),
          el("br"), el("span", { class: "muted small" }, `${s.id === mine && s.user_agent ? `${s.user_agent} · ` : ""}signed in ${dateTime(s.started_at)} · active ${relativeTime(s.last_active_at)}`)),
        revoke, status);
    })));
  };
  await load();
  return box;
}

export async function render() {
  const me = await account();
  const out = el("button", { type: "button", class: "secondary", id: "sign-out" }, "Sign out");
  out.addEventListener("click", async () => {
    await signOut();
    window.location.assign("/app/signin");
  });
  const sections = [el("p", { class: "muted" }, `Signed in as ${me.email}`), displayForm(me), await notificationsPanel(me)];
  sections.push(passwordForm(), await sessionsPanel(), el("div", { class: "row actions" }, out));
  page("Account", ...sections);
}
