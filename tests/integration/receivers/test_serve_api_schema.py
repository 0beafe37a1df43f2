"""``audit serve``'s API against its own OpenAPI document, by schemathesis: requests generated
from ``/openapi.json`` (valid and invalid parameters and bodies) go to a real server holding
the Celery capture's findings, and every answer must be one the document describes (status,
content type, body schema), never a server error. A bounded number of examples per endpoint
keeps it to CI time; a server of its own, since the generated triage and mutes change it.

Every check but one: "schema-valid data is accepted" cannot hold for an opaque page cursor
(any string is schema-valid, one the API did not make is a 400), nor for rules the schema
does not spell out (a false_positive needs a note; a mute lasts more than 0s and at most
366d), which the API answers with 400 and the document lists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from auditor.api.openapi import DOCUMENT
from tests.integration.receivers.capture import RULES, api, post_capture, wait_for_findings
from tests.integration.receivers.conftest import AuditServer, start_server, stop_cleanly

pytestmark = pytest.mark.integration

TOKEN = "schema-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = 80  # per endpoint and method


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditServer]:
    served = start_server(
        tmp_path_factory.mktemp("schema"), "--rules", str(RULES), "--token", TOKEN,
        "--decode-workers", "1", "--evaluation-interval", "0.2s",
    )  # fmt: skip
    try:
        post_capture(served, TOKEN)
        wait_for_findings(served, TOKEN)
        yield served
    finally:
        stop_cleanly(served)


# The document the server serves (a test below checks that it serves exactly this one).
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(DOCUMENT)))


def test_the_server_serves_the_document(server: AuditServer) -> None:
    answer = httpx.get(f"{api(server)}/openapi.json", headers=AUTH, timeout=10)
    assert answer.json() == json.loads(json.dumps(DOCUMENT))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_answer_is_one_the_openapi_document_describes(case: Any, server: AuditServer) -> None:
    case.call_and_validate(
        base_url=api(server), headers=AUTH, excluded_checks=[positive_data_acceptance]
    )
