// The cloud app's service worker: the app shell from its versioned cache (the app opens with no
// network), the API network-first with the last good answer kept, served offline with the time
// it was fetched (x-pv-cached-at) so pages show its age. The server fills in BUILD and SHELL.
const BUILD = "__BUILD__";
const SHELL = __SHELL__;
const SHELL_CACHE = `pv-shell-${BUILD}`;
const DATA_CACHE = "pv-data";
// Only GETs are cached (tokens are POSTed, never kept); sign-out deletes the data cache.

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("pv-shell-") && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

async function shell(request) {
  const cache = await caches.open(SHELL_CACHE);
  const hit = await cache.match(request, { ignoreSearch: true });
  if (hit) return hit;
  return fetch(request);
}

async function page() {
  const cache = await caches.open(SHELL_CACHE);
  return (await cache.match("/app/")) || fetch("/app/");
}

async function api(request) {
  const cache = await caches.open(DATA_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.status === 200) {
      const headers = new Headers(response.headers);
      headers.set("x-pv-fetched-at", String(Date.now()));
      const body = await response.clone().blob();
      await cache.put(request.url, new Response(body, { status: 200, headers }));
    }
    return response;
  } catch (error) {
    const hit = await cache.match(request.url);
    if (!hit) throw error;
    const headers = new Headers(hit.headers);
    headers.set("x-pv-cached-at", hit.headers.get("x-pv-fetched-at") || "0");
    return new Response(await hit.blob(), { status: 200, headers });
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname.startsWith("/app")) {
    event.respondWith(page());
  } else if (url.pathname.startsWith("/app/static/") || url.pathname === "/app/manifest.webmanifest") {
    event.respondWith(shell(request));
  } else if (url.pathname.startsWith("/api/v1/")) {
    event.respondWith(api(request));
  }
});

// Web Push: the cloud encrypts each event for this browser (RFC 8291); show it, and open the
// page it points at when tapped.
self.addEventListener("push", (event) => {
  let message = { title: "Plant-Vita", body: "Something changed in your garden.", url: "/app/" };
  try {
    message = { ...message, ...event.data.json() };
  } catch {
    // A message that is not JSON still tells the gardener something happened.
  }
  event.waitUntil(self.registration.showNotification(message.title, {
    body: message.body,
    tag: message.id,
    icon: "/app/static/icon.svg",
    data: { url: message.url },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/app/", self.location.origin);
  if (url.origin !== self.location.origin) return;
  event.waitUntil((async () => {
    for (const client of await self.clients.matchAll({ type: "window" })) {
      if (client.url.startsWith(`${self.location.origin}/app`)) {
        await client.navigate(url.href);
        return client.focus();
      }
    }
    return self.clients.openWindow(url.href);
  })());
});
