"""What a chaos run found: per fault kind, how often it was injected and how long the
pipeline took to recover; totals lost, doubled and dead-lettered; and the verdict."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from chaos.verdict import Verdict


@dataclass
class Injection:
    """One attempt at a fault. ``error``: the pipeline did not recover (its failure);
    ``harness_error``: the harness could not bring the fault about (ours, tried again)."""

    fault: str
    at_s: float
    recovered_s: float | None = None
    error: str | None = None
    harness_error: str | None = None


@dataclass
class Report:
    requested: list[str] = field(default_factory=list)
    orders: int = 0
    new_orders: int = 0
    verdict: Verdict = field(default_factory=Verdict)
    injections: list[Injection] = field(default_factory=list)
    violations: dict[str, int] = field(default_factory=dict)
    poison_injected: int = 0
    duplicates_absorbed: int = 0
    client_orders: int = 0
    client_retries: int = 0
    client_gave_up: int = 0
    keys_with_two_orders: int = 0
    orders_told_but_missing: int = 0
    final_lag: int = 0
    slot_behind_bytes: int = 0
    seconds: float = 0.0
    # The failover run's (chaos.failover): duplicates on the topic per kind (a second copy of
    # an event id inside the kind's window), and per kind what each injection hit and saw.
    duplicates_by_kind: dict[str, int] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def injected_kinds(self) -> set[str]:
        """Kinds brought about at least once (whether or not the pipeline then recovered)."""
        return {i.fault for i in self.injections if i.harness_error is None}

    @property
    def not_injected(self) -> list[str]:
        return [f for f in self.requested if f not in self.injected_kinds]

    @property
    def harness_ok(self) -> bool:
        """Every kind asked for was brought about: otherwise the run proved less than it says,
        whatever the data shows."""
        return not self.not_injected

    @property
    def passed(self) -> bool:
        """Fails on any loss, doubling or drift, and also when the run proved nothing: a fault
        kind not injected, no order placed, a client that gave up."""
        return self.harness_ok and self.pipeline_ok

    @property
    def pipeline_ok(self) -> bool:
        """The pipeline's verdict alone: nothing lost, doubled or drifted, every fault it met
        recovered from, everything settled."""
        return (
            self.verdict.holds
            and self.new_orders > 0
            and self.client_orders == self.new_orders
            and self.orders_told_but_missing == 0
            and not any(self.violations.values())
            and self.client_gave_up == 0
            and self.keys_with_two_orders == 0
            and self.final_lag == 0
            and self.slot_behind_bytes == 0
            and all(i.error is None for i in self.injections)
        )

    @property
    def result(self) -> str:
        if self.passed:
            return "PASS"
        why = [] if self.pipeline_ok else ["the pipeline"]
        if not self.harness_ok:
            why.append(f"the harness: not injected {', '.join(self.not_injected)}")
        return f"FAIL ({'; '.join(why)})"

    def by_kind(self) -> list[tuple[str, int, float | None, float | None, list[str]]]:
        rows = []
        for kind in self.requested:
            mine = [i for i in self.injections if i.fault == kind]
            times = [i.recovered_s for i in mine if i.recovered_s is not None]
            errors = [i.error for i in mine if i.error]
            errors += [f"harness: {i.harness_error}" for i in mine if i.harness_error]
            p50 = statistics.median(times) if times else None
            injected = sum(i.harness_error is None for i in mine)
            rows.append((kind, injected, p50, max(times) if times else None, errors))
        return rows

    def markdown(self) -> str:
        def secs(x: float | None) -> str:
            return "-" if x is None else f"{x:.1f} s"

        faults = "\n".join(
            f"| {kind} | {n} | {secs(p50)} | {secs(worst)} | {'; '.join(errs) or 'ok'} |"
            for kind, n, p50, worst, errs in self.by_kind()
        )
        v = self.verdict
        groups = "\n".join(
            f"| {name} | {g.not_handled} | {g.dead_marked} | {g.dead_lettered} | "
            f"{g.poison_missing} | {g.unexpected_dead} | {g.dead_letter_copies} |"
            for name, g in sorted(v.groups.items())
        )
        violations = ", ".join(f"{k} {n}" for k, n in self.violations.items() if n) or "none"
        harness = sum(i.harness_error is not None for i in self.injections)
        return (
            self._failover() + "| fault | injected | recovery p50 | recovery max | result |\n"
            "| --- | ---: | ---: | ---: | --- |\n"
            f"{faults}\n\n"
            "| group | events not handled (lost) | real events dead-lettered | dead letters | "
            "poison not dead-lettered | unexpected dead letters | dead-letter copies |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
            f"{groups}\n\n| measure | value |\n| --- | ---: |\n"
            f"| orders committed in this run (clients were told) | {self.new_orders:,} "
            f"({self.client_orders:,}) |\n"
            f"| events the orders imply / on the topic under one id each | "
            f"{v.expected_events:,} / {v.expected_events - v.missing_on_topic:,} |\n"
            f"| fault kinds injected | {len(self.injected_kinds & set(self.requested))} of "
            f"{len(set(self.requested))} ({len(self.injections) - harness} injections"
            f"{f', {harness} the harness could not bring about' if harness else ''}"
            f"{'' if not self.not_injected else '; missing: ' + ', '.join(self.not_injected)}) |\n"
            f"| **lost** (must be 0) | {v.lost + self.orders_told_but_missing} |\n"
            f"| **doubled** (must be 0) | {v.doubled + self.keys_with_two_orders} |\n"
            f"| poison injected / dead-lettered per group | {self.poison_injected} / "
            f"{', '.join(f'{n} {g.dead_lettered}' for n, g in sorted(v.groups.items()))} |\n"
            f"| read-model drift (must be none) | {violations} |\n"
            f"| duplicate messages on the topic (Debezium at least once) | "
            f"{v.topic_duplicates:,} |\n"
            f"| duplicate deliveries absorbed by the consumers | {self.duplicates_absorbed:,} |\n"
            f"| client retries / gave up (must be 0) | {self.client_retries:,} / "
            f"{self.client_gave_up} |\n"
            f"| final lag, all groups (must be 0) | {self.final_lag} |\n"
            f"| slot behind the run's WAL (must be 0) | {self.slot_behind_bytes:,} bytes |\n"
            f"| run time | {self.seconds:.0f} s |\n"
            f"| **result** | **{self.result}** |\n"
        )

    def _failover(self) -> str:
        """The failover run's table: per kind, duplicates on the topic and what was hit."""
        if not self.notes:
            return ""
        kinds = [k for k in self.requested if k in self.notes]
        extra = {k: n for k, n in self.duplicates_by_kind.items() if k not in self.notes}
        rows = [
            f"| {k} | {self.duplicates_by_kind.get(k, 0)} | {'; '.join(self.notes[k])} |"
            for k in kinds
        ] + [f"| {k} | {n} | |" for k, n in sorted(extra.items())]
        return (
            "| failover kind | duplicates on the topic | what each injection hit and saw |\n"
            "| --- | ---: | --- |\n" + "\n".join(rows) + "\n\n"
        )
