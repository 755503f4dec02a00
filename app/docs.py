"""The browsable API description at /api/v1/docs: Swagger UI, served from its package."""

from importlib.resources import files

from flask import Blueprint, redirect, send_from_directory

from app.openapi import TITLE

bp = Blueprint("docs", __name__, url_prefix="/api/v1/docs")
# The dist files that the flask-swagger-ui package ships, so no page loads from a CDN.
ASSETS = files("flask_swagger_ui") / "dist"

# Paths are relative to /api/v1/docs, so the page works under any prefix a proxy adds.
PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{TITLE}</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
    }});
  </script>
</body>
</html>
"""


@bp.get("")
def page():
    """Swagger UI on this server's description; needs no key."""
    return PAGE, {"Content-Type": "text/html; charset=utf-8"}


@bp.get("/")
def slash():
    """/api/v1/docs/ is the page too; relative, so it holds under any prefix a proxy adds."""
    return redirect("../docs", 308)  # the page's own relative paths need it without the slash


@bp.get("/<path:name>")
def asset(name):
    return send_from_directory(ASSETS, name)


def init_app(app):
    app.register_blueprint(bp)
