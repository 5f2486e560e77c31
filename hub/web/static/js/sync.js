// Sync: cloud link (device flow with the user code), ledger of pending data, "sync now".
import { api } from "./api.js";
import { bytes, dateTime, el, relativeTime } from "./format.js";
import { announce, busy, showError } from "./shell.js";

const linkBox = document.getElementById("link");
const ledgerBox = document.getElementById("ledger");
const errorBox = document.getElementById("sync-error");
const resultBox = document.getElementById("sync-result");
const summary = document.getElementById("sync-summary");
let pollTimer = null;

const KIND_NAMES = {
  nodes: "Node inventory",
  alerts: "Alerts",
  readings: "Readings",
  plant_edits: "Plant edits made on this hub",
  config: "Plant settings from the cloud",
  diagnoses: "Diagnoses from the cloud",
  image_slots: "Photo details",
  image_bytes: "Photo files",
};

function minutesLeft(iso) {
  const minutes = Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 60000));
  return minutes < 1 ? "less than a minute" : `${minutes} more minute${minutes === 1 ? "" : "s"}`;
}

function renderLink(status) {
  window.clearTimeout(pollTimer);
  if (status.linked) {
    const unlink = el("button", { type: "button", class: "danger" }, "Unlink");
    const out = el("div", { "aria-live": "polite" });
    unlink.addEventListener("click", () => busy(unlink, async () => {
      if (!window.confirm("Unlink this hub from the cloud? Data stays on the hub.")) return;
      renderLink(await api("/api/v1/link", { method: "DELETE" }));
      announce("Unlinked");
      await loadLedger();
    }, out));
    linkBox.replaceChildren(
      el("p", { dataset: { linked: "true" } }, "✓ Linked to ", el("code", {}, status.cloud_url || "the cloud"), status.hub_id ? ` as hub ${status.hub_id}` : ""),
      el("div", { class: "row actions" }, unlink), out);
    return;
  }
  if (status.pending) {
    const p = status.pending;
    const uri = p.verification_uri_complete || p.verification_uri;
    linkBox.replaceChildren(
      el("p", { dataset: { linked: "pending" } }, "Approve this hub in your cloud account. Go to ", el("a", { href: uri, rel: "noreferrer" }, p.verification_uri), " and enter the code:"),
      el("p", { class: "user-code", id: "user-code", "aria-label": `Code ${p.user_code.split("").join(" ")}` }, p.user_code),
      el("p", { class: "muted small" }, `Waiting for approval… the code is valid for ${minutesLeft(p.expires_at)}.`),
    );
    announce(`Link code ${p.user_code}`);
    pollTimer = window.setTimeout(pollLink, Math.max(1, p.interval) * 1000);
    return;
  }
  const form = el("form", {},
    el("p", { dataset: { linked: "false" } }, "Not linked: the hub works on its own; link it to back up readings and photos and get diagnoses."),
    el("label", { for: "cloud-url" }, "Cloud address (leave empty for the configured one)"),
    el("input", { id: "cloud-url", name: "cloud_url", type: "url", placeholder: status.cloud_url || "https://…", autocomplete: "url" }),
    el("div", { class: "row actions" }, el("button", { type: "submit" }, "Link to cloud")),
    el("div", { "aria-live": "polite", class: "form-status" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const url = form.elements.cloud_url.value.trim();
    await busy(form.querySelector("button"), async () => {
      renderLink(await api("/api/v1/link/start", { method: "POST", body: url ? { cloud_url: url } : {} }));
    }, form.querySelector(".form-status"));
  });
  linkBox.replaceChildren(form);
}

async function pollLink() {
  try {
    const status = await api("/api/v1/link/poll", { method: "POST" });
    if (status.linked) announce("Linked to the cloud");
    renderLink(status);
    if (status.linked) await loadLedger();
  } catch (error) {
    showError(linkBox, error);
    const retry = el("button", { type: "button" }, "Start again");
    retry.addEventListener("click", async () => renderLink(await api("/api/v1/link")));
    linkBox.append(retry);
  }
}

const REJECTED_KIND = { readings: "readings", alerts: "alerts", nodes: "nodes", image_slots: "images", plant_edits: "plant_edits" };

// Edits made here that the cloud did not take: always listed, a lost change is never silent.
async function loadLostEdits(entry) {
  const box = document.getElementById("lost-edits");
  if (!entry || !entry.rejected) {
    box.replaceChildren();
    return;
  }
  const rows = await api("/api/v1/sync/rejected?kind=plant_edits&limit=50");
  box.replaceChildren(
    el("h3", {}, "Plant edits the cloud did not take"),
    el("p", { class: "muted small" }, "The cloud is the source of truth: when a plant changed there since this hub's copy, the cloud's version stays and the change made here is listed below. Make it again on the plant page if you still want it."),
    el("ul", {}, rows.map((r) => el("li", { dataset: { role: "lost-edit" } }, `${r.at ? dateTime(r.at) : ""} ${r.reason}`))),
  );
}

// Rows the cloud refused stay on the hub with the reason; show them on request.
function rejectedButton(entry) {
  const kind = REJECTED_KIND[entry.kind];
  if (!kind) return String(entry.rejected);
  const button = el("button", { type: "button", class: "secondary", "aria-controls": "rejected" }, `${entry.rejected} — why?`);
  button.addEventListener("click", () => busy(button, async () => {
    const rows = await api(`/api/v1/sync/rejected?kind=${kind}&limit=50`);
    const box = document.getElementById("rejected");
    box.hidden = false;
    box.replaceChildren(
      el("h3", {}, `${KIND_NAMES[entry.kind] || entry.kind} the cloud refused`),
      el("ul", {}, rows.map((r) => el("li", { dataset: { kind } }, `${r.at ? dateTime(r.at) : ""} ${r.node_mac || ""}: ${r.reason}`))),
    );
    box.focus();
  }));
  return button;
}

async function loadLedger() {
  const status = await api("/api/v1/sync/status");
  const parts = [
    status.linked ? "Linked." : "Not linked: data waits here until you link the hub.",
    status.running ? "Sync running now." : "",
    status.last_run_at ? `Last run ${relativeTime(status.last_run_at)}.` : "No sync run yet.",
    status.backoff_s > 0 ? `Next retry in ${Math.ceil(status.backoff_s)} s.` : "",
    status.oldest_pending_reading_at ? `Oldest unsent reading from ${dateTime(status.oldest_pending_reading_at)}.` : "",
  ];
  summary.textContent = parts.filter(Boolean).join(" ");
  renderSchedule(status);
  ledgerBox.replaceChildren(el("table", { class: "stack", id: "ledger-table" },
    el("thead", {}, el("tr", {}, ["Data", "Waiting", "Rejected", "Sent", "Last success", "Last attempt", "Last error"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, status.ledger.map((e) => el("tr", { dataset: { kind: e.kind } },
      el("td", { "data-label": "Data" }, KIND_NAMES[e.kind] || e.kind),
      el("td", { "data-label": "Waiting", dataset: { role: "pending" } }, String(e.pending)),
      el("td", { "data-label": "Rejected" }, e.rejected ? rejectedButton(e) : "0"),
      el("td", { "data-label": "Sent" }, `${e.items_sent} (${bytes(e.bytes_sent)})`),
      el("td", { "data-label": "Last success", dataset: { role: "success" } }, e.last_success_at ? dateTime(e.last_success_at) : "never"),
      el("td", { "data-label": "Last attempt", dataset: { role: "attempt" } }, e.last_attempt_at ? dateTime(e.last_attempt_at) : "never"),
      el("td", { "data-label": "Last error", dataset: { role: "error" } }, e.last_error ? `${e.last_error} (${dateTime(e.last_error_at)})` : "none"),
    )))));
  await loadLostEdits(status.ledger.find((e) => e.kind === "plant_edits"));
}

const JOB_NAMES = { sync: "Sync with the cloud", alerts: "Alert checks", budget: "Disk budget" };

// Scheduled work follows elapsed time; a late or hung job and a clock step are shown, not hidden.
function renderSchedule(status) {
  let box = document.getElementById("schedule");
  if (!box) {
    box = el("div", { id: "schedule" });
    ledgerBox.after(box);
  }
  const clock = status.clock;
  const step = clock.steps
    ? `The hub's clock was stepped ${clock.steps} time${clock.steps === 1 ? "" : "s"}; last by ${Math.round(clock.last_step_s)} s (${dateTime(clock.last_step_at)}). Scheduled work follows elapsed time and was not affected.`
    : "";
  box.replaceChildren(
    el("h3", {}, "Scheduled work"),
    step ? el("p", { class: "notice", dataset: { role: "clock-step" } }, step) : "",
    el("table", { class: "stack", id: "schedule-table" },
      el("thead", {}, el("tr", {}, ["Job", "Every", "Runs", "Last run", "Next run", "State"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, status.schedule.map((j) => el("tr", { dataset: { job: j.id } },
        el("td", { "data-label": "Job" }, JOB_NAMES[j.id] || j.id),
        el("td", { "data-label": "Every" }, `${Math.round(j.interval_s)} s`),
        el("td", { "data-label": "Runs" }, j.failures ? `${j.runs} (${j.failures} failed)` : String(j.runs)),
        el("td", { "data-label": "Last run" }, j.last_started_at ? relativeTime(j.last_started_at) : "not yet"),
        el("td", { "data-label": "Next run" }, j.running ? "running now" : `in ${Math.ceil(j.next_run_in_s)} s`),
        el("td", { "data-label": "State", dataset: { role: "job-state" }, class: j.problem ? "error" : "" },
          j.problem || (j.last_error ? `last run failed: ${j.last_error}` : "ok")),
      )))));
}

const syncButton = document.getElementById("sync-now");
syncButton.addEventListener("click", () => busy(syncButton, async () => {
  resultBox.replaceChildren(el("p", { class: "muted" }, "Syncing…"));
  const result = await api("/api/v1/sync/now", { method: "POST" });
  const sent = Object.entries(result.sent).filter(([, n]) => n).map(([k, n]) => `${n} ${(KIND_NAMES[k] || k).toLowerCase()}`);
  let text;
  if (result.error) text = `Sync failed: ${result.error}`;
  else if (result.skipped) text = `Nothing sent: ${result.skipped}`;
  else text = sent.length ? `Sent ${sent.join(", ")} (${bytes(result.bytes_sent)}).` : "Everything was already in the cloud.";
  resultBox.replaceChildren(el("p", { class: result.error ? "notice error" : "notice", dataset: { role: "sync-result" } }, text));
  await loadLedger();
}, resultBox));

try {
  renderLink(await api("/api/v1/link"));
  await loadLedger();
} catch (error) {
  showError(errorBox, error);
}
window.setInterval(() => {
  if (!document.hidden) loadLedger().catch(() => {});
}, 10000);
