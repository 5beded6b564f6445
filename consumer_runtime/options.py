"""How a group's runtime behaves: one value, one name per fact.

Built once, from the deployable's settings (``ConsumerSettings.runtime_options``), and read by
every part of the runtime under the same names: the handler's bound is ``handler_bound``
wherever it is used (the Postgres session's timeouts, the ``bound`` layer, an optimistic
batch's check, the fault hook of ``make chaos``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuntimeOptions:
    # Retries of a message's failure, with exponential backoff and full jitter, before its
    # dead letter (``middleware.retry``).
    attempts: int = 3
    backoff_base: float = 0.05
    backoff_cap: float = 2.0
    # Seconds a handler call may take, enforced by Postgres (``adapters.postgres``) and
    # turned into the message's fault by the ``bound`` layer.
    handler_bound: float = 10.0
    # Seconds after which a batch starts no new message (``applier``).
    batch_budget: float = 30.0
    # A batch runs in one pipelined transaction first (``optimistic``); and a handler with a
    # batch form runs clean batches without the per-message chain (``clean``).
    optimistic: bool = True
    clean_batches: bool = True
    # The poll loop (``processor``).
    max_records: int = 500
    poll_timeout_ms: int = 200
    outage_backoff_cap: float = 5.0
    stats_interval: float = 10.0
    lag_interval: float = 5.0  # between two reads of the lag off the client's fetches
    # An event written with a newer schema than this process knows (``newer_schemas``).
    newer_schema_max_wait: float = 86_400
    newer_schema_recheck: float = 30.0
