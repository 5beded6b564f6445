"""``make inspect``: decoded messages of a topic, a dead letter's origin and reason, the hex and
the reason of what does not decode; ``JSON=1`` one JSON object per message."""

from __future__ import annotations

import argparse
import json

from contract.headers import DLQ_HEADERS
from contract.kafka import KafkaAccess
from ops.tables import console

out = console()


def cmd_inspect(args: argparse.Namespace, bootstrap: KafkaAccess) -> int:
    from contract import AvroCodec, SchemaRepository
    from ops.inspect import messages

    codec = AvroCodec(SchemaRepository.load())
    try:
        for shown in messages(
            bootstrap,
            args.topic,
            codec,
            start=args.start,
            n=args.n,
            key=args.key,
            follow=args.follow,
        ):
            if args.json:
                print(json.dumps(shown.as_dict(), default=str), flush=True)
                continue
            out.print(
                f"[bold]{shown.topic}[{shown.partition}]@{shown.offset}[/] "
                f"{shown.timestamp} key={shown.key}"
            )
            plain = {k: v for k, v in shown.headers.items() if k not in DLQ_HEADERS}
            out.print(f"  headers {json.dumps(plain)}")
            if shown.dead_letter:
                d = shown.dead_letter
                out.print(
                    f"  [red]dead letter[/] from {d['origin']} by {d['handler']} at "
                    f"{d['failed_at']}: {d['reason']}"
                )
            if shown.event_type:
                out.print(
                    f"  {shown.event_type} v{shown.schema_version} {json.dumps(shown.fields)}"
                )
            elif shown.json_value is not None:
                out.print(f"  json {json.dumps(shown.json_value)}")
            else:
                out.print(f"  [yellow]undecodable[/] ({shown.reason}): {shown.undecodable_hex}")
    except KeyboardInterrupt:
        pass
    return 0
