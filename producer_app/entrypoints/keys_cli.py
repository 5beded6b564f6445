"""``python -m producer_app api-key NAME [--revoke]`` (``make api-key NAME=...``): a new key
for a client, printed once and stored only as its keyed hash; or every key of the client
revoked. And the seed's side of it: which client a key given in ``API_KEY`` belongs to."""

from __future__ import annotations

from contract.cli import fail
from producer_app.bootstrap import Producer
from producer_app.service_layer.clients import client_name


class KeyRefused(Exception):
    """Exit 2 with this message: the command cannot run with what it was given."""


def api_key(producer: Producer, name: str, *, revoke: bool) -> int:
    """``name`` was checked by the parser (``NAME (name): client name ...``)."""
    client = client_name(name)
    keys = producer.keys
    if keys is None:
        fail("API_KEY_PEPPER is not set (make env writes it to .env)")
    if revoke:
        print(f"api-key   revoked {keys.revoke(client)} key(s) of client {client}")
        return 0
    key = keys.issue(client)
    print(f"api-key   new key for client {client}, shown this once (only its keyed hash is kept):")
    print(key)
    return 0


def seed_client(producer: Producer) -> str:
    """The client whose key the seed was given in ``API_KEY``; ``KeyRefused`` otherwise."""
    given = producer.settings.api_key
    if given is None:
        raise KeyRefused(
            "API_KEY is not set: the seed places orders as a client. "
            "`make api-key NAME=<client>` prints a key; export API_KEY=<it>"
        )
    if producer.keys is None:
        raise KeyRefused("API_KEY_PEPPER is not set: the seed cannot check API_KEY without it")
    client = producer.keys.client_of(given.get_secret_value())
    if client is None:
        raise KeyRefused("API_KEY is not a live key (`make api-key NAME=<client>` makes one)")
    return client
