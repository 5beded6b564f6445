"""The writing half: orders and the events that say so, in one Postgres transaction.

Layers (cosmicpython): ``domain`` (pure), ``service_layer`` (use cases, unit of work, event bus),
``adapters`` (SQLModel tables, Avro outbox serializer), ``entrypoints`` (HTTP API, seed script),
and ``bootstrap`` which wires them. Nothing connects at import time.
"""
