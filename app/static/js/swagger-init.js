// Starts Swagger UI from the JSON its page carries (the CSP allows no inline script).
window.addEventListener("load", function () {
  var config = JSON.parse(document.getElementById("swagger-ui-config").textContent);
  window.ui = SwaggerUIBundle(config);
});
