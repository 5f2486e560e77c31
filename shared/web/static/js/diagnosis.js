// A plant diagnosis as both UIs show it: health in words and a sign, confidence, findings with
// their likely causes, recommended actions. The caller supplies the photo element and the words
// for a diagnosis still on its way (the hub waits for a sync, the cloud for its worker).
import { dateTime, el, percent, relativeTime } from "./format.js";

const HEALTH = {
  healthy: ["✓", "Healthy", "ok"],
  stressed: ["⚠", "Stressed", "low"],
  diseased: ["⚠", "Diseased", "high"],
  pest: ["⚠", "Pests", "high"],
  not_a_plant: ["?", "No plant in the photo", "unknown"],
  unclear: ["?", "Unclear", "unknown"],
};

export function healthBadge(health) {
  const [sign, text, tone] = HEALTH[health] || ["?", health || "Unknown", "unknown"];
  return el("span", { class: `status ${tone}`, dataset: { health } }, `${sign} ${text}`);
}

/**
 * One diagnosis as an <article>. options: level (heading tag), photo (element or null),
 * pending(d) -> text for a queued/running one, failed(d) -> text for a failed one.
 */
export function diagnosisArticle(d, options) {
  const { level = "h3", photo = null } = options;
  const heading = el(level, {}, d.status === "succeeded"
    ? healthBadge(d.health)
    : el("span", { class: "status unknown" }, d.status === "failed" ? "✗ Failed" : "⏱ On its way"));
  const box = el("article", { class: "diagnosis", dataset: { diagnosisId: d.id, status: d.status } }, heading);
  if (d.status !== "succeeded") {
    box.append(el("p", {}, d.status === "failed"
      ? (options.failed ? options.failed(d) : "The cloud could not diagnose this photo (it gave up after retrying).")
      : options.pending(d)));
    if (photo) box.append(photo);
    return box;
  }
  const by = d.source === "gemini" ? `Gemini (${d.model || "model"})` : "rule-based checks of the sensor history and green cover, not a vision model";
  box.append(
    el("p", { class: "muted small" }, `Confidence ${percent(d.confidence)} · diagnosed ${dateTime(d.finished_at || d.requested_at)} · by ${by}`),
    el("p", { class: "summary" }, d.summary || ""),
  );
  if (photo) box.append(photo);
  if (d.findings.length) {
    box.append(el("h4", {}, "What it found"), el("ul", { class: "findings" }, d.findings.map((f) => el("li", {},
      el("strong", {}, f.issue), ` — likely cause: ${f.likely_cause} (${f.cause_type === "biotic" ? "a pest or disease" : "the environment"}). `,
      el("span", { class: "muted" }, f.evidence)))));
  } else {
    box.append(el("p", { class: "muted" }, "No problems found."));
  }
  if (d.recommended_actions.length) {
    box.append(el("h4", {}, "What to do"), el("ol", { class: "actions-list" }, d.recommended_actions.map((a) => el("li", {}, a))));
  }
  if (d.follow_up) box.append(el("p", { class: "muted small" }, d.follow_up));
  return box;
}
