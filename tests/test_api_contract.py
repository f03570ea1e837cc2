import pytest
import schemathesis
from bearer import bearer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import attach_view, create_app
from api.routes.receipts import serve_receipts
from audit.receipts import ReceiptKey
from projections.keeper import open_view

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

APP = create_app(None)  # each test hands it the ledger of its backend
serve_receipts(APP, ReceiptKey(Ed25519PrivateKey.generate()))  # as `serve` does
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.phases.coverage.enabled = False
# A body over the size limit is refused with 413 before it is read: as much a rejection of invalid data as a 422.
rejected = schema.config.checks.negative_data_rejection
rejected.expected_statuses = [*rejected.expected_statuses, "413"]
CALLER: dict[str, str] = {}


@schema.auth(refresh_interval=None)  # the token is each test's own: no caching across tests
class Bearer:
    """Send the served ledger's all-scopes token; schemathesis then leaves `Authorization` unmutated."""

    def get(self, _case, _context):
        return CALLER.get("Authorization", "Bearer -")  # at collection, before any ledger is served

    def set(self, case, data, _context):
        case.headers = {**(case.headers or {}), "Authorization": data}


@pytest.fixture
def served(ledger, database):
    APP.state.ledger = ledger
    attach_view(APP, ledger, open_view(database))
    # every scope: who may call what is the matrix in test_api_auth
    CALLER["Authorization"] = bearer(ledger, "schemathesis")["Authorization"]
    yield ledger
    CALLER.clear()
    APP.state.ledger = None
    attach_view(APP, None, None)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.usefixtures("served")
def test_no_request_gets_a_server_error_or_an_answer_its_openapi_does_not_document(case):
    case.call_and_validate(checks=CHECKS)
