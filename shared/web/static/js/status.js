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
