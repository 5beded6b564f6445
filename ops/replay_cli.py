"""``make dlq-replay``: a group's dead letters through its handler again; exit 1 when some
failed again or the replay did not finish, 3 when some were refused (not proven to come from
the event topic: ``ops.provenance``)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from contract.kafka import KafkaAccess
from contract.topics import dlq_topic
from ops.tables import console

out = console()


def _json(data: Any) -> None:
    print(json.dumps(data, default=str, indent=2))


def cmd_replay(args: argparse.Namespace, bootstrap: KafkaAccess) -> int:
    from consumers.settings import ConsumerSettings
    from ops.provenance import Refusal
    from ops.replay import finished, replay

    settings = ConsumerSettings()
    ids = None
    if args.ids:
        from ops.dead_letters import dead_letter_ids, unknown

        ids = {str(i) for i in args.ids}
        unknown(ids, dead_letter_ids(settings.kafka_for(args.group), args.group), args.group)
    refused: list[Refusal] = []
    stats = replay(settings, args.group, ids=ids, refused=refused)
    complete, topic = finished(stats), dlq_topic(args.group)
    if args.json:
        reasons = [r.describe(topic) for r in refused]
        _json({**stats, "finished": complete, "refusals": reasons})
    else:
        out.print(
            f"replayed {topic}: handled {stats['handled']}, already handled "
            f"{stats['duplicate']}, dead-lettered again {stats['dead_lettered']}, "
            f"refused {stats['refused']}, not selected {stats['ignored'] - stats['refused']}"
        )
        from rich.markup import escape

        for refusal in refused:
            out.print(f"[red]refused[/] {escape(refusal.describe(topic))}; kept, not replayed")
        if not complete:
            from consumer_runtime.message import Outcome

            done = Outcome.settled(stats)
            out.print(
                f"error: replay did not finish: {done} of {stats['todo']} dead letters got an "
                "outcome before the deadline; run it again (nothing is lost: progress is kept)"
            )
    if stats["refused"]:
        return 3  # not proven to come from the event topic: see ops/provenance.py
    return 1 if stats["dead_lettered"] or not complete else 0
