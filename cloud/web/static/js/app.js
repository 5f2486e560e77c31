// The cloud app: one shell page, a view per address under /app/. Every view reads the public
// JSON API only. Registers the service worker that keeps the shell (and the last data) offline.
import { freshness, onFreshness, signedIn } from "./client.js";
import { dateTime } from "./format.js";
import { ageText, errorNotice, main } from "./ui.js";

const ROUTES = [
  [/^\/app\/?$/, "garden", () => import("./garden.js"), "garden"],
  [/^\/app\/signin$/, "signin", () => import("./auth.js"), null],
  [/^\/app\/signup$/, "signup", () => import("./auth.js"), null],
  [/^\/app\/link$/, "link", () => import("./link.js"), null],
  [/^\/app\/plants\/new$/, "create", () => import("./manage.js"), "garden"],
  [/^\/app\/plants\/([^/]+)\/edit$/, "edit", () => import("./manage.js"), "garden"],
  [/^\/app\/plants\/([^/]+)$/, "plant", () => import("./plant.js"), "garden"],
  [/^\/app\/alerts$/, "alerts", () => import("./alerts.js"), "alerts"],
  [/^\/app\/nodes$/, "nodes", () => import("./nodes.js"), "nodes"],
  [/^\/app\/account$/, "account", () => import("./account.js"), "account"],
];
const PUBLIC = new Set(["signin", "signup"]);

function showFreshness() {
  const banner = document.getElementById("offline");
  if (freshness.cachedAt == null && navigator.onLine) {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  banner.textContent = freshness.cachedAt == null
    ? "You are offline."
    : `Offline — showing data from ${ageText(freshness.cachedAt)} (${dateTime(new Date(freshness.cachedAt).toISOString())}).`;
  banner.dataset.cachedAt = freshness.cachedAt == null ? "" : String(freshness.cachedAt);
}

async function route() {
  const path = window.location.pathname;
  const match = ROUTES.find(([pattern]) => pattern.test(path));
  const nav = document.getElementById("nav");
  if (!match) {
    main().replaceChildren(errorNotice(new Error("There is no such page.")));
    return;
  }
  const [pattern, name, load, section] = match;
  if (!PUBLIC.has(name) && !signedIn()) {
    const back = encodeURIComponent(path + window.location.search);
    window.location.replace(`/app/signin?next=${back}`);
    return;
  }
  nav.hidden = !signedIn();
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.body.dataset.page = name;
  try {
    const module = await load();
    await module.render(name, path.match(pattern).slice(1).map(decodeURIComponent));
  } catch (error) {
    if (error.status === 401) {
      window.location.replace(`/app/signin?next=${encodeURIComponent(path)}`);
      return;
    }
    main().replaceChildren(errorNotice(error));
  }
  document.body.dataset.ready = "true";
}

onFreshness(showFreshness);
window.addEventListener("online", showFreshness);
window.addEventListener("offline", showFreshness);
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
}
route();
