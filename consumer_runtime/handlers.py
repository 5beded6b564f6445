"""Typed handlers, registered where they are written.

    @handler("loyalty")
    def award_points(event: OrderPlaced, ctx: HandlerContext) -> None: ...

The decorator's argument is the consumer group (see ``registry`` on renaming); the event
types come from the annotation of the first parameter, a union for several. A group may hold
one handler per event type (Watermill's event group processor): they are dispatched by the
event's type, and each handler's own middleware applies to its events only.
``group_registrations`` turns handlers into one ``Registration`` per group, checking their
event types against the deployable's catalog; ``discover`` finds the handlers a package
defines by importing its modules.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from consumer_runtime.delivery import Delivery, Middleware, Step
from consumer_runtime.events import EventCatalog
from consumer_runtime.message import HandlerContext, Outcome
from consumer_runtime.registry import Registration

E = TypeVar("E")


@dataclass(frozen=True)
class EventHandler(Generic[E]):
    """A handler function with its group, its event types (from its annotation), an optional
    batch form (``Registration`` says what it must equal) and its own middleware."""

    group: str
    fn: Callable[[E, HandlerContext], None]
    event_types: tuple[type[Any], ...]
    batch: Callable[[Sequence[tuple[E, HandlerContext]]], None] | None = None
    middleware: tuple[Middleware, ...] = ()
    reset: tuple[str, ...] = ()

    def __call__(self, event: E, ctx: HandlerContext) -> None:
        self.fn(event, ctx)


def handler(
    group: str,
    *,
    batch: Callable[[Sequence[tuple[Any, HandlerContext]]], None] | None = None,
    middleware: Sequence[Middleware] = (),
    reset: Sequence[str] = (),
) -> Callable[[Callable[[E, HandlerContext], None]], EventHandler[E]]:
    """``reset``: the SQL statements that put the handler's tables back as they were before
    its first event, which ``make rebuild`` runs; a handler without them cannot be rebuilt."""

    def register(fn: Callable[[E, HandlerContext], None]) -> EventHandler[E]:
        return EventHandler(group, fn, event_types_of(fn), batch, tuple(middleware), tuple(reset))

    return register


def event_types_of(fn: Callable[..., None]) -> tuple[type[Any], ...]:
    """The classes the first parameter is annotated with: one, or a union."""
    hints = typing.get_type_hints(fn)
    params = [p for p in fn.__code__.co_varnames[: fn.__code__.co_argcount]]
    if not params or params[0] not in hints:
        raise TypeError(f"{fn.__qualname__}: annotate the event parameter with its type(s)")
    hint = hints[params[0]]
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    return tuple(typing.get_args(hint) if union else (hint,))


def group_registrations(
    handlers: Iterable[EventHandler[Any]], events: EventCatalog
) -> dict[str, Registration]:
    """One ``Registration`` per group, by group name. Raises ``TypeError`` for a handler
    annotated with a class that is not one of ``events``, two handlers of one group for one
    event type, or a batch form in a group of several handlers."""
    by_group: dict[str, list[EventHandler[Any]]] = {}
    for h in handlers:
        by_group.setdefault(h.group, []).append(h)
    return {group: _registration(group, hs, events) for group, hs in sorted(by_group.items())}


def _registration(group: str, hs: list[EventHandler[Any]], events: EventCatalog) -> Registration:
    for h in hs:
        try:
            events.names(h.event_types)
        except TypeError as exc:
            raise TypeError(f"{h.fn.__qualname__}: {exc}") from None
    if len(hs) == 1:
        [h] = hs
        names = events.names(h.event_types)
        return Registration(group, h.fn, names, events, h.batch, h.middleware, h.reset)
    by_type: dict[type[Any], EventHandler[Any]] = {}
    for h in hs:
        for t in h.event_types:
            if t in by_type:
                raise TypeError(f"group {group!r}: two handlers for {t.__name__}")
            by_type[t] = h
    if any(h.batch is not None for h in hs):
        raise TypeError(f"group {group!r}: a batch form needs the group's only handler")

    def dispatch(event: Any, ctx: HandlerContext) -> None:
        by_type[type(event)].fn(event, ctx)

    middleware = tuple(_only_for(h.event_types, m) for h in hs for m in h.middleware)
    reset = tuple(statement for h in hs for statement in h.reset)
    names = events.names(tuple(by_type))
    return Registration(group, dispatch, names, events, None, middleware, reset)


def _only_for(event_types: tuple[type[Any], ...], middleware: Middleware) -> Middleware:
    """A handler's middleware in a group of several: only around that handler's events."""

    def wrapped(step: Step) -> Step:
        inner = middleware(step)

        def run(d: Delivery) -> Outcome:
            return inner(d) if isinstance(d.event, event_types) else step(d)

        return run

    wrapped.__name__ = getattr(middleware, "__name__", "middleware")
    return wrapped


def discover(package: str) -> list[EventHandler[Any]]:
    """Every ``EventHandler`` defined at module level in ``package``'s modules."""
    root = importlib.import_module(package)
    found: dict[int, EventHandler[Any]] = {}
    for info in pkgutil.iter_modules(root.__path__, f"{package}."):
        module = importlib.import_module(info.name)
        found |= {id(v): v for v in vars(module).values() if isinstance(v, EventHandler)}
    return list(found.values())
