// The API reference at /docs: Swagger UI over /openapi.json, from the vendored bundle
// (static/vendor/swagger-ui), so the page asks nothing of any other server.
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Swagger UI would send the document to validator.swagger.io for a badge.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
