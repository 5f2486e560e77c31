// Sign in and sign up.
import { signIn, signUp } from "./client.js";
import { el } from "./format.js";
import { busy, field, main } from "./ui.js";

function nextPage() {
  const next = new URLSearchParams(window.location.search).get("next") || "/app/";
  // Only paths inside the app: never an open redirect to another site.
  return next.startsWith("/app/") && !next.startsWith("//") ? next : "/app/";
}

export async function render(name) {
  const signingUp = name === "signup";
  document.title = `${signingUp ? "Create an account" : "Sign in"} · Plant-Vita`;
  const email = el("input", { type: "email", name: "email", required: true, autocomplete: "email", maxlength: 320 });
  const password = el("input", {
    type: "password", name: "password", required: true,
    autocomplete: signingUp ? "new-password" : "current-password", minlength: signingUp ? 10 : 1,
  });
  const status = el("div", { "aria-live": "polite" });
  const submit = el("button", { type: "submit" }, signingUp ? "Create account" : "Sign in");
  const form = el("form", { class: "panel", "aria-label": signingUp ? "Create an account" : "Sign in" },
    ...field("E-mail", email),
    ...field("Password", password, signingUp ? "At least 10 characters." : null),
    el("div", { class: "row actions" }, submit),
    status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      if (signingUp) await signUp(email.value, password.value);
      else await signIn(email.value, password.value);
      window.location.assign(nextPage());
    }, status);
  });
  const other = signingUp
    ? el("p", {}, "Have an account? ", el("a", { href: `/app/signin${window.location.search}` }, "Sign in"))
    : el("p", {}, "New here? ", el("a", { href: `/app/signup${window.location.search}` }, "Create an account"));
  main().replaceChildren(el("div", { class: "auth-box" },
    el("h1", {}, signingUp ? "Create an account" : "Sign in to your garden"), form, other));
  email.focus();
}
