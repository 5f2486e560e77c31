// Link a hub (RFC 8628): the hub shows a code and this page's address with ?user_code=...;
// the signed-in gardener checks the code, names the hub and approves (or denies) it.
import { api } from "./client.js";
import { el } from "./format.js";
import { account, busy, field, page } from "./ui.js";

export async function render() {
  await account();
  const code = new URLSearchParams(window.location.search).get("user_code") || "";
  const codeInput = el("input", { name: "user_code", required: true, minlength: 8, maxlength: 16, value: code, autocomplete: "off", autocapitalize: "characters", class: "user-code", spellcheck: "false" });
  const nameInput = el("input", { name: "hub_name", maxlength: 64, autocomplete: "off" });
  const status = el("div", { "aria-live": "polite", id: "link-status" });
  const approve = el("button", { type: "submit" }, "Approve this hub");
  const deny = el("button", { type: "button", class: "secondary" }, "Deny");
  const send = (approved, button) => busy(button, async () => {
    const body = { user_code: codeInput.value.trim(), approve: approved };
    if (nameInput.value.trim()) body.hub_name = nameInput.value.trim();
    const result = await api("auth/device/approve", { method: "POST", body });
    status.replaceChildren(el("p", { class: "notice", role: "status", dataset: { result: result.status } },
      result.status === "approved"
        ? `Approved: the hub “${result.hub_name}” links itself within a few seconds.`
        : "Denied: that hub will not be linked."));
    approve.disabled = true;
  }, status);
  const form = el("form", { class: "panel", id: "link-form" },
    ...field("Code shown by the hub", codeInput, "Check that it matches the code on the hub's screen or console."),
    ...field("Name for the hub (optional)", nameInput, "Leave empty to keep the name the hub asked for."),
    el("div", { class: "row actions" }, approve, deny), status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(true, approve);
  });
  deny.addEventListener("click", () => send(false, deny));
  page("Link a hub", el("p", {}, "A hub asks to be linked to your account. Only approve a code you see on your own hub."), form);
  (code ? approve : codeInput).focus();
}
