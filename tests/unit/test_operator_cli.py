"""The operator's command lines without services: a bad value is one line naming the make
variable, exit 2 (hypothesis drives every typed option of ``python -m ops`` in-process);
tables fit 80 columns without cutting a header; the preflight names every missing
prerequisite and who holds a taken port; the README's example migration does not clash
with the real ones."""

from __future__ import annotations

import ast
import re
import shutil
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rich.console import Console

from contract.cli import named
from ops.parser import MAKE_NAMES, build
from ops.reset_offsets import Move
from ops.tables import GAP, table
from ops.topics import TopicInfo
from stack import preflight
from stack.health import StackError
from stack.layout import Layout
from stack.settings import StackSettings
from tests.conftest import ROOT
from tests.readme import block

garbage = st.text(min_size=1, max_size=40).filter(lambda t: t.strip() and not t.isdigit())


def one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        build().parse_args(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("error: "), err
    assert "Traceback" not in err
    assert "usage:" not in err
    return err


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=garbage, case=st.sampled_from(range(8)))
def test_a_bad_value_is_one_line_naming_its_make_variable(
    capsys: pytest.CaptureFixture[str], value: str, case: int
) -> None:
    some_id = "00000000-0000-0000-0000-000000000000"
    argv, variable = [  # as the Makefile passes them: --option=value, positionals after --
        (["inspect", f"--from={value}", "--", "t"], "FROM"),
        (["inspect", f"-n={value}", "--", "t"], "N"),
        (["lag", f"--max-lag={value}"], "MAX_LAG"),
        (["dlq-replay", f"--ids={value}", "--", "notifications"], "IDS"),
        (["rebuild", f"--since={value}", "--", "inventory"], "SINCE"),
        (["reset-offsets", f"--to={value}", "--", "inventory"], "TO"),
        (["connector", f"--action={value}"], "ACTION"),
        (["dlq-skip", f"--ids={some_id}", "--reason=why not", "--", value], "GROUP"),
    ][case]
    if variable == "FROM" and re.fullmatch(r"\S+", value) and _is_time(value):
        return  # a valid time, not garbage
    if variable == "TO" and _is_time(value):
        return
    err = one_error_line(capsys, argv)
    assert f"{variable} (" in err, err


def _is_time(value: str) -> bool:
    from datetime import datetime

    try:
        datetime.fromisoformat(value.strip())
        return True
    except ValueError:
        return False


def test_a_missing_argument_names_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert "TOPIC (topic)" in one_error_line(capsys, ["inspect"])
    ids = "00000000-0000-0000-0000-000000000000"
    assert "REASON (--reason)" in one_error_line(capsys, ["dlq-skip", "inventory", "--ids", ids])
    assert named("one of the arguments --ids --since --all is required", {"--ids": "IDS"}) == (
        "one of IDS (--ids), --since, --all is required"
    )
    assert set(MAKE_NAMES.values()) >= {"TOPIC", "FROM", "GROUP", "IDS", "TO", "ROLE", "REASON"}


def _rendered(grid: object, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, highlight=False)
    with console.capture() as captured:
        console.print(grid)
    return captured.get().splitlines()


cell = st.text(st.characters(codec="ascii", min_codepoint=32, max_codepoint=126), max_size=90)


@settings(max_examples=60, deadline=None)
@given(
    headers=st.lists(
        st.text("abcdefghij ", min_size=1, max_size=12).map(str.strip).filter(bool),
        min_size=1,
        max_size=7,
        unique=True,
    ),
    cells=st.lists(st.lists(cell, min_size=7, max_size=7), max_size=5),
)
def test_a_table_fits_80_columns_and_never_cuts_a_header(
    headers: list[str], cells: list[list[str]]
) -> None:
    assume(sum(map(len, headers)) + GAP * (len(headers) - 1) <= 80)  # the headers fit
    grid = table(*headers)
    for row in cells:
        grid.add_row(*(c.replace("[", "(") for c in row[: len(headers)]))
    lines = _rendered(grid)
    assert all(len(line) <= 80 for line in lines), lines
    header_line = lines[0]
    for h in headers:
        assert h in header_line, (h, header_line)


def test_topics_say_how_each_kind_of_topic_keeps_messages() -> None:
    compacted = TopicInfo("connect-configs", "connect internal", 1, {0: 4}, 604_800_000, "compact")
    assert compacted.retention == "latest per key"
    assert TopicInfo("t", "events", 1, {}, 604_800_000, "delete").retention == "7 d"
    assert TopicInfo("t", "events", 1, {}, -1, "delete").retention == "forever"
    assert TopicInfo("t", "events", 1, {}, 3_600_000, "compact,delete").retention == "1 h"


def test_a_reset_says_what_it_re_reads_and_what_it_skips() -> None:
    assert Move(0, 50, 10, 0, 60).effect == "re-reads 40"
    assert Move(0, 50, 60, 0, 60).effect == "SKIPS 10"
    assert Move(0, None, 0, 0, 60).effect == "stays"


def test_the_preflight_names_every_missing_prerequisite_at_once(tmp_path: Path) -> None:
    taken = {29_092: "pid 1 (kafka of another clone)"}
    settings = StackSettings(
        _env_file=None,
        kafka_bootstrap_servers="127.0.0.1:29092",
        stack_metrics="1",
    )
    found = preflight.check(
        Layout(tmp_path), settings, running={"postgres"}, owner=taken.get, apps=True
    )
    text = "\n".join(found.missing)
    assert "127.0.0.1:29092 (kafka) is taken by pid 1 (kafka of another clone)" in text
    assert "Maven" in text or shutil.which("mvn")  # jars not cached here
    assert "(postgres)" not in text  # it runs: its port is its own
    with pytest.raises(StackError, match="nothing was started"):
        found.raise_if_missing()


def test_prometheus_missing_is_a_warning_unless_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no prometheus (nor anything else) on it
    everything = {"postgres", "kafka", "connect"}
    auto = preflight.check(Layout(ROOT), StackSettings(), running=everything, owner=lambda p: None)
    assert auto.warnings == [preflight.PROMETHEUS_MISSING]
    assert preflight.not_started("prometheus", StackSettings(), running=False)
    required = StackSettings(stack_metrics="1")
    found = preflight.check(Layout(ROOT), required, running=everything, owner=lambda p: None)
    assert any("METRICS=1" in m for m in found.missing)
    off = StackSettings(stack_metrics="0")
    assert (
        preflight.check(Layout(ROOT), off, running=everything, owner=lambda p: None).warnings == []
    )
    with pytest.raises(StackError, match="METRICS='maybe'"):
        StackSettings(stack_metrics="maybe").metrics  # noqa: B018


def test_the_preflight_finds_who_listens_on_a_port() -> None:
    import os

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert preflight.listener(port) == f"pid {os.getpid()} ({preflight._command(os.getpid())})"
    assert preflight.listener(port) is None


def test_the_readme_migration_follows_the_real_ones() -> None:
    """The example must not reuse a revision, and must follow the newest one."""
    versions = ROOT / "consumers" / "migrations" / "versions"
    revisions: dict[str, str | None] = {}
    for path in versions.glob("*.py"):
        tree = ast.parse(path.read_text())
        values = {
            t.id: ast.literal_eval(node.value)
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name) and t.id in ("revision", "down_revision")
        }
        revisions[values["revision"]] = values["down_revision"]
    head = (set(revisions) - set(revisions.values())).pop()
    example = re.search(r'revision "(\w+)", down_revision "(\w+)"', block("readme-migration"))
    assert example, "the README's migration block names no revision"
    assert example[1] not in revisions, f"revision {example[1]} exists already"
    assert example[2] == head, f"down_revision {example[2]} is not the head {head}"
