"""The gardener's LAN web UI: static pages (no build step, no CDN) and the few endpoints they need
beyond the domain routers (an overview in one request, a live event stream, display settings)."""
