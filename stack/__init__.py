"""The native stack: Postgres, a KRaft Kafka node and a Kafka Connect worker with Debezium.

It runs the same topology as ``compose.yaml`` from real parts (Debian's PostgreSQL, Kafka and
Debezium jars from Maven Central) for machines without a Docker engine. Nothing here starts at
import time; ``python -m stack`` is the entry point and the Makefile calls it.
"""
