"""Who a process is to Kafka, and how its clients say so.

Kafka answers nobody anonymously: every client authenticates with SASL/SCRAM-SHA-512 as its
part's own principal, and the broker's ACLs let each principal do what its part needs and no
more (``stack.kafka_acls``). This module is the one place that turns a principal into
kafka-python arguments or a Java client's properties, so no caller spells SASL options.

The consumer groups get one principal each (``consumer-<group>``), with a password derived
from the consumers' one secret, so that adding a handler adds a principal without adding a
variable to ``.env``: ``group_password(secret, group)``. The stack derives the same to create
the credential; the consumers derive it to log in.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

MECHANISM = "SCRAM-SHA-512"
# SCRAM's iteration count: Kafka's minimum is 4096 and each login costs the broker that many
# HMACs; logins are rare (one per client connection), so the default is kept.
ITERATIONS = 8192


def group_principal(group: str) -> str:
    return f"consumer-{group}"


def group_password(secret: SecretStr, group: str) -> SecretStr:
    """A consumer group's password, derived from the consumers' secret (HMAC-SHA256)."""
    digest = hmac.new(secret.get_secret_value().encode(), group.encode(), hashlib.sha256)
    return SecretStr(digest.hexdigest())


@dataclass(frozen=True)
class KafkaAccess:
    """The broker addresses and the principal a client logs in as."""

    bootstrap_servers: str
    username: str
    password: SecretStr

    def client(self, **config: Any) -> dict[str, Any]:
        """Keyword arguments for kafka-python's consumer, producer and admin client."""
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password.get_secret_value(),
            **config,
        }

    def java_properties(self, prefix: str = "") -> dict[str, str]:
        """The same for a Java client (Kafka's tools, Connect's worker and its clients);
        ``prefix`` is e.g. ``producer.`` for the clients a Connect worker makes."""
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{self.username}" password="{self.password.get_secret_value()}";'
        )
        return {
            f"{prefix}security.protocol": "SASL_PLAINTEXT",
            f"{prefix}sasl.mechanism": MECHANISM,
            f"{prefix}sasl.jaas.config": jaas,
        }


def group_access(bootstrap_servers: str, secret: SecretStr, group: str) -> KafkaAccess:
    """A consumer group's own principal: what the consumers log in as and what the stack
    creates, from the same derivation."""
    return KafkaAccess(bootstrap_servers, group_principal(group), group_password(secret, group))
