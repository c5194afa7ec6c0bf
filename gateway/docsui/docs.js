// Starts Swagger UI on arcgate's own OpenAPI document. "Try it out" sends
// requests to the origin that served this page (the document names no
// host). Nothing is loaded from elsewhere: no validator badge, no remote
// spec URL from the query string.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    queryConfigEnabled: false,
    displayRequestDuration: true,
    persistAuthorization: false,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
