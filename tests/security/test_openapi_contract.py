"""Issue 25, item 7: the OpenAPI spec is the whole contract. It listed only 201/200/422 while
the API also answered 400, 404, 409 and 413, and schemathesis (``--checks all``) reported the
undocumented statuses and an Idempotency-Key reuse refused as a 422 on a schema-valid
request. Now every status each route can answer is documented with its body, and a bounded
schemathesis run against the running API, with a client's key, reports no failure: every
check (server errors, status codes, content types, headers, response schemas, negative and
positive data, ignored auth, unsupported methods, stateful use-after-free and resource
availability through the spec's links)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from stack.settings import StackSettings
from tests.conftest import ROOT, bearer

pytestmark = pytest.mark.integration
# Every status a route can answer (the refusals' bodies are ``Problems``).
ROUTES = {
    ("post", "/orders"): {"201", "401", "409", "413", "422", "431", "503"},
    ("get", "/orders/{order_id}"): {"200", "401", "404", "422", "431", "503"},
    ("post", "/orders/{order_id}/cancel"): {"200", "401", "404", "409", "413", "422", "431", "503"},
    ("get", "/health"): {"200", "431", "503"},
}
# Bounded, so make test stays short: about 45 s on two cores.
BUDGET_SECONDS = 45


@pytest.fixture
def api(apps_running: None, stack_settings: StackSettings) -> str:
    return f"http://127.0.0.1:{stack_settings.api_port}"


def test_every_status_is_documented_with_its_body(api: str) -> None:
    spec = httpx.get(f"{api}/openapi.json", timeout=10).json()
    for (method, path), statuses in ROUTES.items():
        documented = spec["paths"][path][method]["responses"]
        assert set(documented) == statuses, (method, path)
        for status, answer in documented.items():
            assert answer["content"]["application/json"]["schema"], (path, status)
    assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_schemathesis_finds_nothing(api: str, api_key: str, tmp_path: Path) -> None:
    auth = bearer(api_key)["Authorization"]
    run = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "st"),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{api}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: {auth}",
            "--max-time",
            str(BUDGET_SECONDS),
            # One worker: with two, hypothesis' source inspection (ast.parse in its lambda
            # descriptions) races in CPython 3.11 (python/cpython#106905) and schemathesis
            # reports a runtime error on a clean run, about one run in two measured here.
            "--workers",
            "1",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=BUDGET_SECONDS + 120,
    )
    summary = run.stdout[-6000:]
    print(summary)  # the figures (cases generated, failures) for whoever reads the log
    assert run.returncode == 0, summary + run.stderr[-2000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert cases is not None, summary
    assert int(cases[1]) > 300, summary  # it really ran
    assert int(cases[2]) == int(cases[1]), summary
    assert "No issues found" in run.stdout
