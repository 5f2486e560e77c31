// How a value stands against its plant's thresholds, in words and a sign; colour (the
// status-* classes of theme.css) is only an extra cue. Both tiers compute the status on the
// server (the same rule); this module only shows it. Light is judged by the day's light
// integral (shared.plant_status.daily_light), shown by dliText / metricRange / daylightPanel.
import { el, formatRange } from "./format.js";

export const STATUSES = ["ok", "low", "high", "stale", "unknown"];

const STATUS_TEXT = {
  ok: "OK",
  low: "Too low",
  high: "Too high",
  stale: "Stale",
  unknown: "No data",
};
const STATUS_SIGN = { ok: "✓", low: "↓", high: "↑", stale: "⏱", unknown: "–" };

export function statusText(status) {
  return STATUS_TEXT[status] || status;
}

/** A status badge: words and a sign, colour only as an extra cue. */
export function statusBadge(status) {
  const span = document.createElement("span");
  span.className = `status ${status}`;
  span.dataset.status = status;
  span.textContent = `${STATUS_SIGN[status] || ""} ${statusText(status)}`.trim();
  return span;
}

// How a node stands (shared.freshness.NodeState), in words and a sign.
export const NODE_STATES = ["ok", "stale", "wrong_key", "never_seen"];

const NODE_STATE_TEXT = {
  ok: "Reporting",
  stale: "Stopped reporting",
  wrong_key: "Wrong key",
  never_seen: "Not heard yet",
};
const NODE_STATE_SIGN = { ok: "✓", stale: "⏱", wrong_key: "⚠", never_seen: "–" };

export function nodeStateText(state) {
  return NODE_STATE_TEXT[state] || state;
}

/** A node-state badge (class node-state and the state's status-like class for colour). */
export function nodeStateBadge(state) {
  const span = document.createElement("span");
  span.className = `status node-state ${state === "ok" ? "ok" : state === "wrong_key" ? "high" : "stale"}`;
  span.dataset.nodeState = state;
  span.textContent = `${NODE_STATE_SIGN[state] || ""} ${nodeStateText(state)}`.trim();
  return span;
}

/** The day's light integral in words: yesterday's when it had enough readings, else today's. */
export function dliText(daily) {
  const day = daily.yesterday.dli != null ? daily.yesterday : daily.today;
  if (day.dli == null) return null;
  const when = day === daily.yesterday ? "yesterday" : "today so far";
  return `DLI ${day.dli.toFixed(1)} ${daily.unit} ${when}`;
}

/** What a metric row says beside the status: the DLI against the plant's range for light
 * (when judged by it), else the threshold range. */
export function metricRange(m) {
  const daily = m.daily ? dliText(m.daily) : null;
  return daily && m.daily.minimum != null
    ? `${daily} (needs ${m.daily.minimum}–${m.daily.maximum ?? "…"})`
    : formatRange(m.metric, m.minimum, m.maximum);
}

/** The "Daily light" panel's content: today so far and yesterday against the plant's range. */
export function daylightPanel(daily) {
  if (!daily) return [el("p", { class: "muted" }, "No node watches this plant, so there is no light to integrate.")];
  const range = daily.minimum == null && daily.maximum == null
    ? "no daily light range set for this plant"
    : `this plant needs ${daily.minimum ?? "…"}–${daily.maximum ?? "…"} ${daily.unit}`;
  const row = (name, day, note) => el("div", { dataset: { day: name, status: day.status } },
    el("dt", {}, name === "today" ? `Today so far (${day.hours.toFixed(1)} h)` : "Yesterday"),
    el("dd", {}, day.dli == null ? `not enough readings (${day.samples})` : `${day.dli.toFixed(1)} ${daily.unit} `,
      day.dli == null ? null : statusBadge(day.status), note ? el("span", { class: "muted small" }, ` ${note}`) : null));
  const addingUp = daily.today.status === "ok" && daily.minimum != null && daily.today.dli != null && daily.today.dli < daily.minimum;
  return [
    el("p", { class: "muted small" }, `The daily light integral (DLI) is all the light of a day added up; ${range}. One dark reading means little, nights are dark.`),
    el("dl", { class: "facts dli" },
      row("today", daily.today, addingUp ? "still adding up" : ""),
      row("yesterday", daily.yesterday, "")),
  ];
}
