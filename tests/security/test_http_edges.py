"""Issue 25, item 6: the API's HTTP edges, against the running uvicorn server. A lone surrogate
(``\\ud800`` in the JSON) anywhere a string goes was a 500 (the 422 handler could not encode
what it echoed); a 100 KB Idempotency-Key came back whole in the 422; 100 KB of headers were
accepted; every made-up HTTP method became a new metrics series (unbounded memory). Now
invalid Unicode is a 422 naming the field, what a refusal echoes is escaped and cut short,
headers past 8 KiB are a 431, and methods the API does not serve share the label ``other``."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from producer_app.entrypoints.errors import MAX_ECHO
from producer_app.entrypoints.limits import MAX_HEADER_BYTES
from stack.settings import StackSettings
from tests import factories
from tests.conftest import bearer

pytestmark = pytest.mark.integration
SURROGATE = "a\\ud800b"  # as JSON writes it: the text decodes to a lone surrogate


@pytest.fixture
def api(apps_running: None, stack_settings: StackSettings) -> str:
    return f"http://127.0.0.1:{stack_settings.api_port}"


def _raw(order: dict[str, object], field: str) -> bytes:
    """``order`` as JSON with ``field``'s value (or, for ``"key"``, an extra key) replaced by
    the surrogate escape, which json.dumps cannot write itself."""
    text = json.dumps({**order, field: "PLACEHOLDER"} if field != "key" else order)
    if field == "key":
        return text.replace('{"', '{"' + SURROGATE + '": 1, "', 1).encode()
    return text.replace('"PLACEHOLDER"', f'"{SURROGATE}"').encode()


@pytest.mark.parametrize("field", ["customer_id", "currency", "sales_channel", "key"])
def test_a_lone_surrogate_is_a_422_naming_the_field(api: str, api_key: str, field: str) -> None:
    answer = httpx.post(
        f"{api}/orders",
        content=_raw(factories.order_payload(), field),
        headers={**bearer(api_key), "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    if field == "key":  # a key no field has: the body is named, the key shown escaped
        assert (problem["loc"], problem["input"]) == (["body"], SURROGATE)
    else:
        assert problem["loc"] == ["body", field]
        assert problem["input"] == SURROGATE


def test_a_lone_surrogate_in_a_cancel_reason_is_a_422(api: str, api_key: str) -> None:
    answer = httpx.post(
        f"{api}/orders/{uuid.uuid4()}/cancel",
        content=b'{"reason": "' + SURROGATE.encode() + b'"}',
        headers={**bearer(api_key), "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "reason"]


def test_what_a_refusal_echoes_is_cut_short(api: str, api_key: str) -> None:
    long_key = "k" * 4_000  # under the header limit, over the key's 255
    answer = httpx.post(
        f"{api}/orders",
        json=factories.order_payload(),
        headers={**bearer(api_key), "Idempotency-Key": long_key},
        timeout=10,
    )
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["header", "Idempotency-Key"]
    assert problem["input"].startswith("k" * MAX_ECHO + "... (4000 characters)")
    assert len(answer.content) < 1_000
    big = httpx.post(
        f"{api}/orders",
        json=factories.order_payload(customer_id="c" * 60_000),
        headers=bearer(api_key),
        timeout=10,
    )
    assert big.status_code == 422
    assert len(big.content) < 1_000


def test_headers_past_the_limit_are_a_431(api: str, api_key: str) -> None:
    padded = {**bearer(api_key), "X-Padding": "a" * MAX_HEADER_BYTES}
    answer = httpx.post(f"{api}/orders", json=factories.order_payload(), headers=padded)
    assert answer.status_code == 431
    assert answer.json()["detail"][0]["type"] == "headers_too_large"
    try:  # the server's own cap (64 KiB) drops a bigger block before the API sees it
        huge = httpx.post(
            f"{api}/orders",
            json=factories.order_payload(),
            headers={**bearer(api_key), "X-Padding": "a" * 100_000},
            timeout=10,
        ).status_code
    except (httpx.ReadError, httpx.RemoteProtocolError):
        huge = 0
    assert huge in (0, 400, 431)


def test_made_up_methods_share_one_label(api: str) -> None:
    for i in range(20):
        httpx.request(f"M{uuid.uuid4().hex[:6].upper()}{i}", f"{api}/orders", timeout=10)
    exposition = httpx.get(f"{api}/metrics", timeout=10).text
    methods = {
        method
        for line in exposition.splitlines()
        if line.startswith("http_server_request_duration_seconds_count")
        for method in re.findall(r'method="([^"]*)"', line)
    }
    assert "other" in methods
    assert methods <= {"GET", "HEAD", "POST", "other"}
