// How a value stands against its plant's thresholds, in words and a sign; colour (the
// status-* classes of theme.css) is only an extra cue. Both tiers compute the status on the
// server (the same rule); this module only shows it.

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
