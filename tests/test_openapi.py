"""The OpenAPI document describes every JSON API route the app serves, and only those."""

from __future__ import annotations

from typing import Any

from triage.settings import Settings
from triage.web.app import create_app


async def test_openapi_document_covers_every_api_route(
    aiohttp_client: Any, settings: Settings
) -> None:
    app = create_app(settings, background=False)
    served = {
        (route.method.lower(), route.resource.canonical.removeprefix("/api/v1"))
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/v1/")
        and route.method != "HEAD"
        and not route.resource.canonical.endswith("openapi.json")
    }
    client = await aiohttp_client(app)
    response = await client.get("/api/v1/openapi.json")  # no token needed
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.")
    documented = {
        (method, path) for path, operations in document["paths"].items() for method in operations
    }
    assert served, "no API routes found"
    assert documented == served
