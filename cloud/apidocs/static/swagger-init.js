// Starts Swagger UI on /docs from this file, not an inline script, so the page's CSP can
// forbid inline code. No validator badge: it would call a third-party service.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  validatorUrl: null,
  persistAuthorization: false,
});
