"""The browsable API works on a network without internet (issue 16 item 6): the docs page
loads Swagger UI from the app itself (the installed swagger-ui-bundle package), never a CDN."""
from __future__ import annotations

import re

EXPECTED_TYPES = {".css": "text/css", ".js": "text/javascript"}


def test_issue16_the_docs_page_references_nothing_outside_the_app(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.findall(r"(?:https?:)?//[^\s\"'<>]+", page) == []  # no absolute or scheme-relative URL
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page)
    assert {a.rsplit("/", 1)[-1] for a in assets} >= {"swagger-ui.css", "swagger-ui-bundle.js"}
    for asset in assets:
        assert asset.startswith("/api/v1/"), asset
        served = client.get(asset)  # no token: the page and its files are public
        served.close()
        assert served.status_code == 200, asset
        suffix = asset[asset.rfind("."):]
        assert served.mimetype == EXPECTED_TYPES[suffix], (asset, served.mimetype)
        assert served.content_length and served.content_length > 1000


def test_issue16_the_asset_route_serves_only_swagger_uis_files(client):
    # Nor the package's demo page, which points at a public petstore document.
    for name in ("../../openapi.json", "..%2f__init__.py", "missing.js", "index.html", "swagger-initializer.js"):
        response = client.get(f"/api/v1/docs/assets/{name}")
        response.close()
        assert response.status_code == 404, name
