// Notifications on the account page: Web Push for this browser (subscribed with the server's
// VAPID key), and which events reach you on which channel (push, e-mail, webhook).
import { api } from "./client.js";
import { el } from "./format.js";
import { busy, showError } from "./ui.js";

const SUBSCRIPTION_ID = "plantvita.push.subscription";

function keyBytes(base64url) {
  const padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function pushState() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return { supported: false };
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.getSubscription();
  return { supported: true, registration, subscription };
}

async function pushPanel(available) {
  const box = el("div", { id: "push" });
  const status = el("div", { "aria-live": "polite" });
  const draw = async () => {
    if (!available) {
      box.replaceChildren(el("p", { class: "muted" }, "This server does not send push notifications."));
      return;
    }
    const state = await pushState();
    if (!state.supported) {
      box.replaceChildren(el("p", { class: "muted" }, "This browser cannot receive push notifications."));
      return;
    }
    const on = Boolean(state.subscription);
    const button = el("button", { type: "button", class: on ? "secondary" : "", dataset: { action: on ? "push-off" : "push-on" } },
      on ? "Turn off push on this device" : "Turn on push on this device");
    button.addEventListener("click", () => busy(button, async () => {
      if (on) {
        const id = window.localStorage.getItem(SUBSCRIPTION_ID);
        await state.subscription.unsubscribe();
        if (id) await api(`notifications/push/subscriptions/${encodeURIComponent(id)}`, { method: "DELETE" }).catch(() => {});
        window.localStorage.removeItem(SUBSCRIPTION_ID);
      } else {
        if ((await Notification.requestPermission()) !== "granted") throw new Error("Notifications are blocked for this site in the browser's settings.");
        const { public_key: key } = await api("notifications/push/key");
        const subscription = await state.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
        const saved = await api("notifications/push/subscriptions", { method: "POST", body: subscription.toJSON() });
        window.localStorage.setItem(SUBSCRIPTION_ID, saved.id);
      }
      await draw();
    }, status));
    box.replaceChildren(el("p", {}, on ? "✓ This device gets push notifications." : "This device gets no push notifications."), button, status);
  };
  await draw();
  return box;
}

function choicesTable(prefs, save) {
  const channels = prefs.channels;
  return el("table", { class: "prefs" },
    el("caption", { class: "visually-hidden" }, "Which events reach you on which channel"),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Event"), channels.map((c) => el("th", { scope: "col" }, c.label)))),
    el("tbody", {}, prefs.events.map((event) => el("tr", {},
      el("th", { scope: "row" }, event.label),
      channels.map((channel) => {
        const box = el("input", {
          type: "checkbox", checked: prefs.choices[channel.name][event.name], disabled: !channel.available,
          "aria-label": `${event.label}: ${channel.label}`, dataset: { channel: channel.name, event: event.name },
        });
        box.addEventListener("change", () => save(channel.name, event.name, box));
        return el("td", {}, box);
      })))));
}

/** The browser's IANA time zone ("Europe/Berlin"), or "" when it does not say. */
export function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

function digestChoice(prefs, me, available) {
  const box = el("input", { type: "checkbox", id: "email-digest", checked: prefs.email_digest, disabled: !available });
  const status = el("div", { "aria-live": "polite" });
  const where = () => `${me.time_zone || "UTC"} time`;
  const note = el("span", { class: "muted small", id: "email-digest-note" });
  const describe = () => note.replaceChildren(`One e-mail each morning (from ${String(prefs.digest_hour).padStart(2, "0")}:00, ${where()}) about the day before: alerts opened and resolved, diagnoses, hubs offline.`);
  describe();
  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      // The digest follows the gardener's day: take the browser's zone when the account has none.
      if (box.checked && !me.time_zone && browserTimeZone()) {
        const changed = await api("auth/me", { method: "PATCH", body: { time_zone: browserTimeZone() } }).catch(() => null);
        if (changed) me.time_zone = changed.time_zone;
      }
      await api("notifications/preferences", { method: "PUT", body: { email_digest: box.checked } });
      describe();
      status.replaceChildren(el("p", { class: "muted small", role: "status" }, box.checked ? `Daily digest on (${where()}).` : "Daily digest off."));
    } catch (error) {
      box.checked = !box.checked;
      showError(status, error);
    } finally {
      box.disabled = !available;
    }
  });
  return el("div", { class: "digest" },
    el("div", { class: "row" }, box, el("label", { for: "email-digest" }, "Daily e-mail digest")),
    el("p", {}, note), status);
}

export async function panel(me = {}) {
  const section = el("section", { class: "panel", id: "notifications" }, el("h2", {}, "Notifications"));
  const prefs = await api("notifications/preferences");
  const status = el("div", { "aria-live": "polite" });
  const save = async (channel, event, box) => {
    box.disabled = true;
    try {
      await api("notifications/preferences", { method: "PUT", body: { choices: { [channel]: { [event]: box.checked } } } });
      status.replaceChildren(el("p", { class: "muted small", role: "status" }, "Saved."));
    } catch (error) {
      box.checked = !box.checked;
      showError(status, error);
    } finally {
      box.disabled = false;
    }
  };
  const pushAvailable = prefs.channels.some((c) => c.name === "push" && c.available);
  const mailAvailable = prefs.channels.some((c) => c.name === "email" && c.available);
  section.append(...[await pushPanel(pushAvailable), choicesTable(prefs, save),
    mailAvailable ? null : el("p", { class: "muted small" }, "E-mail is not set up on this server."),
    digestChoice(prefs, me, mailAvailable),
    el("p", { class: "muted small" }, "The webhook (for your own server) is set up through the API: PUT /api/v1/alerts/webhook."),
    status].filter(Boolean));
  return section;
}
