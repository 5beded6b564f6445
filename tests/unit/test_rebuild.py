"""``make rebuild``'s refusals, one rule each (``ops.rebuild.refusal``)."""

from __future__ import annotations

from consumer_runtime import HandlerContext, handler
from consumers.events import OrderPlaced
from consumers.handlers import REGISTRY
from ops.rebuild import refusal
from tests.consumer_fakes import registered

SALES = REGISTRY["sales-projection"]


def test_a_clean_group_with_its_whole_history_may_be_rebuilt() -> None:
    assert refusal(SALES, [], {0: 0, 1: 0}, force=False) is None


def test_a_handler_without_a_reset_is_refused() -> None:
    why = refusal(REGISTRY["notifications"], [], {0: 0}, force=True)
    assert why is not None
    assert "declares no reset" in why


def test_live_members_are_refused_even_with_force() -> None:
    why = refusal(SALES, ["consumers@10.0.0.7"], {0: 0}, force=True)
    assert why is not None
    assert "1 live member(s) (consumers@10.0.0.7)" in why


def test_history_kafka_dropped_is_refused_unless_forced() -> None:
    why = refusal(SALES, [], {0: 0, 3: 120}, force=False)
    assert why is not None
    assert "partition 3 before offset 120" in why
    assert "FORCE=1" in why
    assert refusal(SALES, [], {0: 0, 3: 120}, force=True) is None


def test_every_group_says_whether_it_can_be_rebuilt() -> None:
    """A new handler that forgets ``reset=`` is refused, never emptied half-way: the groups
    with a reset are exactly the pure read models."""
    rebuildable = {name for name, r in REGISTRY.items() if r.reset}
    assert rebuildable == {"sales-projection", "inventory"}

    @handler("x")
    def forgot(event: OrderPlaced, ctx: HandlerContext) -> None: ...

    assert registered(forgot).reset == ()
