"""One builder for a group's runtime: ``build_runtime`` turns a registration, the codec, the
adapters it runs on (``Plugs``), the options from the settings (``RuntimeOptions``) and what
a caller adds (``Extras``) into a ``Runtime``: the middleware chain, the clean-batch path (or
why not), the applier that decides between them, the newer-schema gate and the stats. The
processor, the test kit, the benchmark and the tests all build through it, so they run the
same thing.

``clean_path`` is the decision about the clean-batch path (``consumer_runtime.clean``), made
in one place and reported by the processor at start (a log line and a metric): a layer that
must see every message (user middleware, the duplicator, a selection) turns it off for the
group, and says so.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from opentelemetry.trace import Tracer

from consumer_runtime.applier import BatchApplier
from consumer_runtime.clean import CleanBatch
from consumer_runtime.delivery import Middleware
from consumer_runtime.message import Message
from consumer_runtime.middleware.bound import Overruns, bound
from consumer_runtime.middleware.chain import Chain, layer_name
from consumer_runtime.middleware.dead_letter import dead_letter
from consumer_runtime.middleware.decode import decode
from consumer_runtime.middleware.duplicator import duplicator
from consumer_runtime.middleware.handler import call_handler
from consumer_runtime.middleware.idempotent import idempotent
from consumer_runtime.middleware.log_context import log_context
from consumer_runtime.middleware.only import only
from consumer_runtime.middleware.retry import retry
from consumer_runtime.middleware.trace import traced
from consumer_runtime.newer_schemas import NewerSchemaGate
from consumer_runtime.options import RuntimeOptions
from consumer_runtime.ports import Plugs, Quiet, Telemetry
from consumer_runtime.registry import Registration
from contract import AvroCodec


@dataclass(frozen=True)
class Extras:
    """What a caller adds that the settings do not say: layers (``middleware``, around every
    handler call; ``select``, only the messages it accepts, for a dead-letter replay;
    ``duplicate``, every message run twice, for demos), where the processor reports
    (``telemetry``, ``tracer``), and ``on_db_committed``, called between the database commit
    and the offset commit (tests and ``make chaos`` crash there)."""

    middleware: Sequence[Middleware] = ()
    select: Callable[[Message], bool] | None = None
    duplicate: bool = False
    telemetry: Telemetry = field(default_factory=Quiet)
    tracer: Tracer | None = None
    on_db_committed: Callable[[], None] | None = None


@dataclass(frozen=True)
class CleanPath:
    """Whether the group's clean batches skip the per-message chain, and why (or why not)."""

    on: bool
    why: str


@dataclass(frozen=True)
class Runtime:
    registration: Registration
    options: RuntimeOptions
    extras: Extras
    plugs: Plugs
    chain: Chain
    clean_path: CleanPath
    applier: BatchApplier
    gate: NewerSchemaGate
    stats: Counter[str]

    @property
    def group(self) -> str:
        return self.registration.name


def build_runtime(
    registration: Registration,
    codec: AvroCodec,
    plugs: Plugs,
    options: RuntimeOptions | None = None,
    extras: Extras | None = None,
) -> Runtime:
    """``options``: the defaults when None (``ConsumerSettings.runtime_options`` in the app);
    ``extras``: nothing added when None."""
    options, extras = options or RuntimeOptions(), extras or Extras()
    overruns = Overruns(options.attempts)  # the bound's memory, shared by both paths
    guarantees = layers(registration, codec, plugs, options, extras, overruns)
    chain = Chain(call_handler(registration), guarantees)
    path = clean_path(registration, options, extras)
    clean = None
    if path.on:
        clean = CleanBatch(registration, codec, overruns, options.handler_bound, extras.tracer)
    stats: Counter[str] = Counter()
    applier = BatchApplier(registration, chain, clean, plugs, options, extras.telemetry, stats)
    gate = NewerSchemaGate(
        codec.repository,
        registration.events.types,
        registration.name,
        max_wait=options.newer_schema_max_wait,
        recheck=options.newer_schema_recheck,
        clock=plugs.clock,
        wall_clock=time.time,
    )
    return Runtime(registration, options, extras, plugs, chain, path, applier, gate, stats)


def layers(
    registration: Registration,
    codec: AvroCodec,
    plugs: Plugs,
    options: RuntimeOptions,
    extras: Extras,
    overruns: Overruns,
) -> list[Middleware]:
    """The chain's layers in the order ``consumer_runtime.middleware`` documents: the
    guarantees in their fixed places, the caller's ``middleware`` then the handler's own
    between ``retry`` and the idempotency savepoint."""
    chain: list[Middleware] = [only(extras.select)] if extras.select is not None else []
    chain += [
        log_context,
        traced(extras.tracer),
        dead_letter(plugs.dead_letters),
        decode(codec, registration),
        retry(options.attempts, options.backoff_base, options.backoff_cap, sleep=plugs.sleep),
        *extras.middleware,
        *registration.middleware,
    ]
    if extras.duplicate:
        chain.append(duplicator)
    return [*chain, idempotent, bound(options.handler_bound, overruns, clock=plugs.clock)]


def clean_path(registration: Registration, options: RuntimeOptions, extras: Extras) -> CleanPath:
    """The clean-batch path is for a handler with a batch form whose chain has no layer that
    must see every message; every other case says why not."""
    if registration.handle_batch is None:
        return CleanPath(False, "the handler has no batch form")
    if not (options.optimistic and options.clean_batches):
        return CleanPath(False, "turned off in the settings (CLEAN_BATCHES, optimistic)")
    users = [layer_name(m) for m in (*extras.middleware, *registration.middleware)]
    if users:
        return CleanPath(False, f"user middleware must see every message: {', '.join(users)}")
    if extras.duplicate:
        return CleanPath(False, "the duplicator must see every message")
    if extras.select is not None:
        return CleanPath(False, "a selection (a dead-letter replay) must see every message")
    return CleanPath(True, "a batch form and no layer that must see every message")
