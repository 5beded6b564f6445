"""The consumer-group runtime: apply each outbox event exactly once per group, from Kafka into
Postgres. The public API is here; ``consumers`` is this project's app built on it (its
events, handlers, settings and the ``bootstrap`` that plugs Kafka and Postgres in).

Layout: ``ports`` (the Protocols it needs) and ``adapters`` (Postgres, Kafka) apart;
``middleware`` (one module per layer, their order in its docstring); ``runtime`` (the one
builder); ``processor`` (the poll loop), ``applier`` with ``optimistic`` and ``clean`` (how
a batch runs); ``testkit`` for users' handlers.
"""

from consumer_runtime.delivery import Delivery, Middleware, Step
from consumer_runtime.events import EventCatalog
from consumer_runtime.handlers import EventHandler, discover, group_registrations, handler
from consumer_runtime.message import HandlerContext, Message, Outcome
from consumer_runtime.options import RuntimeOptions
from consumer_runtime.ports import Plugs
from consumer_runtime.processor import EventProcessor
from consumer_runtime.registry import Registration
from consumer_runtime.runtime import Extras, Runtime, build_runtime

__all__ = [
    "Delivery",
    "EventCatalog",
    "EventHandler",
    "EventProcessor",
    "Extras",
    "HandlerContext",
    "Message",
    "Middleware",
    "Outcome",
    "Plugs",
    "Registration",
    "Runtime",
    "RuntimeOptions",
    "Step",
    "build_runtime",
    "discover",
    "group_registrations",
    "handler",
]
