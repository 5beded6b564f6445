"""Kafka's principals and ACLs: who may do what, applied by ``make up`` (idempotently) once
the broker runs, as the admin principal.

- ``broker``, ``controller``, ``admin``: everything (super users: the broker itself and the
  operator tools);
- ``connect``: its group and the ``connect-*`` topics; create and write ``outbox.*`` and
  Debezium's heartbeat topics;
- ``consumer-<group>``: read ``outbox.event.order`` (and its retention config) in group
  ``<group>`` (and in ``<group>.*``, such as the dead-letter replays); create, write and read
  ``dlq.<group>`` only;
- ``tools``: the bench and chaos tools, a super user of their own (see ``TOOLS``);
- ``monitor``: the metrics exporter: describe topics and groups, read their offsets; nothing
  it can consume, write or change.

So only Connect writes the event topics, a consumer group cannot write another group's dead
letters or forge an event, and only the admin administers. Nothing is allowed where no ACL
says so (``allow.everyone.if.no.acl.found=false``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    NewTopic,
    ResourcePattern,
    ResourceType,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from kafka.errors import TopicAlreadyExistsError

from contract.kafka import ITERATIONS, KafkaAccess
from contract.topics import dlq_topic
from stack.health import StackError
from stack.settings import StackSettings

Op = ACLOperation
LITERAL, PREFIXED = ACLResourcePatternType.LITERAL, ACLResourcePatternType.PREFIXED
# The bench and chaos forge records on the event topic, stop the connector and read every
# group's offsets: by design they do what no part may, so they are a super user of their own
# (an action of theirs is never mistaken for the admin's). Listed in server.properties too.
TOOLS = "tools"

Grant = tuple[ResourceType, str, ACLResourcePatternType, tuple[ACLOperation, ...]]


def connect_grants(exactly_once: bool = False) -> list[Grant]:
    """With exactly-once source (KIP-618) the workers also write through transactions: the
    group's leader to the config topic as ``connect-cluster-outbox-connect`` (Connect's
    ``connect-cluster-<group.id>``), each task as ``outbox-connect-<connector>-<task>``; and
    the leader fences a task's old producers before the task starts elsewhere (WRITE on
    those ids). Nothing else: a transactional id of another prefix is refused."""
    write = (Op.CREATE, Op.WRITE, Op.DESCRIBE, Op.DESCRIBE_CONFIGS)
    grants: list[Grant] = [
        (ResourceType.CLUSTER, "kafka-cluster", LITERAL, (Op.DESCRIBE, Op.DESCRIBE_CONFIGS)),
        (ResourceType.GROUP, "outbox-connect", LITERAL, (Op.READ, Op.DESCRIBE)),
        (ResourceType.TOPIC, "connect-", PREFIXED, (Op.READ, *write)),
        (ResourceType.TOPIC, "outbox.", PREFIXED, write),
        (ResourceType.TOPIC, "__debezium-heartbeat", PREFIXED, write),
    ]
    if exactly_once:
        ids = (Op.WRITE, Op.DESCRIBE)
        grants += [
            (ResourceType.TRANSACTIONAL_ID, "connect-cluster-outbox-connect", LITERAL, ids),
            (ResourceType.TRANSACTIONAL_ID, "outbox-connect-", PREFIXED, ids),
        ]
    return grants


def monitor_grants() -> list[Grant]:
    """Enough to list groups and their committed offsets and the topics' end offsets."""
    return [
        (ResourceType.CLUSTER, "kafka-cluster", LITERAL, (Op.DESCRIBE,)),
        (ResourceType.TOPIC, "*", LITERAL, (Op.DESCRIBE,)),
        (ResourceType.GROUP, "*", LITERAL, (Op.DESCRIBE,)),
    ]


def group_grants(group: str, topic: str, dlq_prefix: str) -> list[Grant]:
    return [
        # DESCRIBE_CONFIGS: its retention, which bounds how long dedup marks are kept.
        (ResourceType.TOPIC, topic, LITERAL, (Op.READ, Op.DESCRIBE, Op.DESCRIBE_CONFIGS)),
        (ResourceType.GROUP, group, LITERAL, (Op.READ, Op.DESCRIBE)),
        # Its own Kafka groups besides: ``<group>.replay`` (dead-letter replays) and any
        # ``<group>.<name>``. The dot keeps ``sales`` from matching ``sales-projection``.
        (ResourceType.GROUP, f"{group}.", PREFIXED, (Op.READ, Op.DESCRIBE)),
        (
            ResourceType.TOPIC,
            dlq_topic(group, dlq_prefix),
            LITERAL,
            (Op.CREATE, Op.WRITE, Op.READ, Op.DESCRIBE),
        ),
    ]


def _acls(principal: str, grants: Iterable[Grant]) -> list[ACL]:
    return [
        ACL(f"User:{principal}", "*", op, ACLPermissionType.ALLOW, ResourcePattern(t, name, kind))
        for t, name, kind, ops in grants
        for op in ops
    ]


def _apply(admin: KafkaAdminClient, users: dict[str, str], acls: list[ACL]) -> None:
    upserts = [
        UserScramCredentialUpsertion(user, ScramMechanism.SCRAM_SHA_512, password, ITERATIONS)
        for user, password in users.items()
    ]
    refused = {u: e for u, e in admin.alter_user_scram_credentials(upserts).items() if e}
    if refused:
        raise StackError(f"Kafka refused SCRAM credentials: {refused}")
    if acls:
        failed = admin.create_acls(acls)["failed"]
        if failed:
            raise StackError(f"Kafka refused ACLs: {failed}")


def grant_group(
    admin_access: KafkaAccess, group: KafkaAccess, name: str, topic: str, dlq_prefix: str
) -> None:
    """One consumer group's principal and ACLs (the stack's groups, and tests' own)."""
    admin = KafkaAdminClient(**admin_access.client(client_id="stack-auth"))
    try:
        _apply(
            admin,
            {group.username: group.password.get_secret_value()},
            _acls(group.username, group_grants(name, topic, dlq_prefix)),
        )
    finally:
        admin.close()


def apply(
    settings: StackSettings, groups: Iterable[str], topic: str, dlq_prefix: str, partitions: int = 6
) -> int:
    """Every principal and ACL of the stack, and the event topic (Connect's to write, made
    here so that consumers started before the first order find it; as many partitions as
    ``topic.creation.default.partitions`` in connectors/, as many replicas as the topology
    has, min.insync.replicas from the brokers' default). Returns how many principals."""
    users = {
        p: settings.kafka_as(p).password.get_secret_value()
        for p in ("connect", TOOLS, "admin", "monitor")
    }
    acls = _acls("connect", connect_grants(settings.connect_exactly_once))
    acls += _acls("monitor", monitor_grants())
    for group in groups:
        access = settings.kafka_group(group)
        users[access.username] = access.password.get_secret_value()
        acls += _acls(access.username, group_grants(group, topic, dlq_prefix))
    admin = KafkaAdminClient(**settings.kafka_as("admin").client(client_id="stack-auth"))
    try:
        _apply(admin, users, acls)
        with contextlib.suppress(TopicAlreadyExistsError):
            replicas = settings.topology.replication_factor
            admin.create_topics([NewTopic(topic, partitions, replicas)])
    finally:
        admin.close()
    return len(users)
