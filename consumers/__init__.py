"""The reading half: consumer groups that apply each outbox event exactly once per handler.

``runtime`` owns subscription, decoding, dispatch, idempotency, retries, dead letters and
offset commits; ``handlers`` are plain functions ``(event, context) -> None`` registered under a
name that is also their Kafka consumer group. Nothing here imports ``producer_app``.
"""
