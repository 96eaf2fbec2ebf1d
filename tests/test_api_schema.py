"""Schemathesis against the running app's OpenAPI schema: generated requests (bounded) to every
API operation, on a copy of the demo with an admin account, must never get a 5xx, and every
refusal must be an RFC 9457 problem with a `detail`."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tidings.accounts.service import create_user
from tidings.db.session import Database

from .conftest import LiveServer

EXAMPLES_PER_OPERATION = 30
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
_calls: Counter[str] = Counter()
_statuses: Counter[int] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    """Writes how many requests were made (the figure for docs/benchmarks.md)."""
    yield
    ARTIFACTS.mkdir(exist_ok=True)
    report = {
        "requests": sum(_calls.values()),
        "operations": len(_calls),
        "by_status": {str(status): count for status, count in sorted(_statuses.items())},
        "by_operation": dict(_calls),
    }
    (ARTIFACTS / "schemathesis.json").write_text(json.dumps(report, indent=1))


@pytest.fixture
def api_schema(site: LiveServer, demo_database: Database) -> schemathesis.BaseSchema:
    # With an admin account, anonymous writes are refused as on a real install (and no
    # generated URL is ever fetched).
    with demo_database.session() as session:
        create_user(session, "admin@example.org", "a long admin password", "Admin", role="admin")
    return schemathesis.openapi.from_url(f"{site.base_url}/api/v1/openapi.json")


def test_no_request_breaks_the_api(api_schema: schemathesis.BaseSchema) -> None:
    """Every operation, EXAMPLES_PER_OPERATION generated requests each (schemathesis's
    strategies driven by hypothesis directly: its pytest plugin does not run on this pytest)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same requests in every run
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(timeout=30)
            _calls[f"{case.method} {case.path}"] += 1
            _statuses[response.status_code] += 1
            case.validate_response(response, checks=[not_a_server_error])
            if 400 <= response.status_code < 500:
                content_type = response.headers["content-type"][0]
                assert content_type.startswith("application/problem+json"), response.text
                problem = response.json()
                assert problem["status"] == response.status_code
                assert problem["detail"]

        check()
    assert sum(_calls.values()) >= len(operations) * 5
