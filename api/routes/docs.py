"""Interactive API documentation at `/docs`, served from the Swagger UI the package ships: nothing from a CDN.

FastAPI's own `/docs` page loads Swagger UI from a CDN, so it is blank on a machine without
internet (an operator's locked-down server, a court expert's laptop). Here the page names
files under `/docs/assets/`, read from the `swagger-ui-bundle-v2` package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from starlette.exceptions import HTTPException
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

router = APIRouter(include_in_schema=False)

ASSETS: Final = Path(swagger_ui_path)
SERVED: Final = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
"""The only files of the bundle the page needs."""


@router.get("/docs")
def docs() -> HTMLResponse:
    """Swagger UI over `/openapi.json`; paste the bare token (no `Bearer`) into Authorize."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Consent ledger - API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon-32x32.png",
        swagger_ui_parameters={"persistAuthorization": False, "tryItOutEnabled": True},
    )


@router.get("/docs/assets/{name}")
def asset(name: str) -> FileResponse:
    """One file of the packaged Swagger UI."""
    if name not in SERVED:
        raise HTTPException(404, f"no such file of the documentation page: {name}")
    return FileResponse(ASSETS / name, media_type=SERVED[name], headers={"Cache-Control": "max-age=86400"})
