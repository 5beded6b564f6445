"""A chain of middleware that can say what it is made of: the names of its layers, outermost
first, read off the real composition (``Chain.layers``), so that the order the guarantees
rest on is tested rather than trusted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from consumer_runtime.delivery import Delivery, Middleware, Step
from consumer_runtime.message import Outcome


class Chain:
    """``inner`` wrapped by ``middlewares``, listed outermost first."""

    def __init__(self, inner: Step, middlewares: Sequence[Middleware]) -> None:
        self.layers = (*(layer_name(m) for m in middlewares), layer_name(inner))
        for middleware in reversed(middlewares):
            inner = middleware(inner)
        self._step = inner

    def __call__(self, d: Delivery) -> Outcome:
        return self._step(d)


def layer_name(f: Callable[..., object]) -> str:
    return str(getattr(f, "layer", getattr(f, "__name__", type(f).__name__)))


F = TypeVar("F", bound=Callable[..., object])


def layer(name: str) -> Callable[[F], F]:
    """Names a middleware made by a factory (its function is just ``middleware``)."""

    def named(f: F) -> F:
        f.layer = name  # type: ignore[attr-defined]
        return f

    return named
