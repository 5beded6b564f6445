"""Middleware: each is a function that takes a step and returns a step that wraps it, one
module each (the runtime's in this folder; users write theirs the same way).

A step is ``Callable[[Delivery], Outcome]``. ``runtime.layers`` lists them in this
order, outermost first; each line says why it sits where it does:

1. ``log_context``   - binds event id, trace and position to every log line inside.
2. ``trace``         - one CONSUMER span per message run, the child of the outbox write's
                       span (``traceparent``); it ends with the outcome, dead letters
                       included.
3. ``dead_letter``   - catches ``PoisonMessage`` and ``RetriesExhausted`` (and, as a last
                       resort, any other error of the message's), sends the original bytes
                       and headers plus the reason to the group's dead-letter topic, marks it
                       in processed_events so a redelivery is a duplicate, and lets the group
                       move on. ``Outage``/``BatchConflict``/``Isolate`` pass
                       through: an outage is waited out, never dead-lettered. In an optimistic
                       batch the transaction refuses the mark (``Isolate``) before anything
                       is sent: the applier, not this step, owns that decision.
4. ``decode``        - bytes -> event with the shared codec, resolved to this deployable's
                       reader schema; bad bytes are ``PoisonMessage`` (never retried).
5. ``retry``         - exponential backoff with full jitter, for handler failures only.
   *user middleware* - the processor's (``Extras.middleware``), then the handler's
                       (``@handler(..., middleware=...)``): each sees the decoded event once
                       per attempt; what it raises is retried, then dead-lettered. Never
                       inside the savepoint: its writes could not be rolled back with the
                       handler's, nor may it skip the idempotency mark.
6. ``duplicator``    - (tests and demos) runs the rest twice; sits *outside* idempotency so
                       the second run must be absorbed by it, proving the handler idempotent.
7. ``idempotent``    - a savepoint, then ``INSERT ... ON CONFLICT DO NOTHING`` into
                       processed_events; a duplicate skips the handler; a failure rolls the
                       effect back to the savepoint.
8. ``bound``         - inside the savepoint: a handler that overran the database's bound
                       (statement or idle-in-transaction limit) has its effect undone and
                       is retried as the message's fault.
9. the handler.

What each error means is decided by its cause, in one place: ``consumer_runtime.causes``.

A clean batch of a handler with a batch form skips this chain when no layer above must see
every message (``consumer_runtime.clean``; the processor logs and reports the decision at
start): the same decoding, marks and bound memory in four loops over the batch; anything
that needs a layer above sends its message back here, isolated.
"""
