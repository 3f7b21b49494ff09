"""Fuzzed API inputs (schemathesis, generated from /openapi.json): no input makes the service answer 5xx,
and every answer has a status, content type and body the OpenAPI document declares.

Every operation gets `FUZZ_EXAMPLES` generated requests, sent with an admin token and with a team-scoped
operator token so they reach the handlers (unauthenticated requests stop at the 401 and test little), and
/metrics is fuzzed with them too. Bounded to about a minute.
"""

from __future__ import annotations

import pytest
import schemathesis
from api_fixtures import build_world
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

FUZZ_EXAMPLES = 8


def _world():
    import tempfile

    return build_world(f"sqlite:///{tempfile.mkdtemp(prefix='cp-fuzz-')}/fuzz.db")


WORLD = _world()
schema = schemathesis.openapi.from_asgi("/openapi.json", WORLD.app)


@pytest.mark.slow
@pytest.mark.parametrize("who", ["admin", "ops-research"])  # unscoped admin, and an operator scoped to one team
@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_input_is_a_server_error(case, who):
    case.call_and_validate(headers=WORLD.auth(who), checks=[not_a_server_error, status_code_conformance,
                                                                 content_type_conformance,
                                                                 response_schema_conformance])
