"""Switching topologies: both read the one replication slot of the one Postgres, but each keeps
its own Kafka data. Whichever ran last moved the slot on (heartbeats alone move it), so the
other cluster's connector, started again, finds its stored position behind the slot and fails
("no longer available on the server", seen switching ha, single, ha), and the events published
meanwhile are on the other cluster only. ``make up`` refuses such a start and names the data
to delete, rather than leave a FAILED task to decipher."""

from __future__ import annotations

from stack.health import StackError
from stack.layout import Layout
from stack.secrets import write_private
from stack.settings import StackSettings

LAST = "last-topology"  # under .stack/conf: the topology make up last started


def check_and_remember(layout: Layout, settings: StackSettings) -> None:
    """Refuse to start a topology whose Kafka data predates the other's run; else record this
    one as the last started."""
    name, marker = settings.topology.name, layout.conf / LAST
    before = marker.read_text().strip() if marker.exists() else name
    if before != name:
        stale = sorted(
            {
                layout.node_data(b.name).parent
                for b in settings.topology.brokers
                if (layout.node_data(b.name) / "meta.properties").exists()
            }
        )
        if stale:
            dirs = " ".join(str(p.relative_to(layout.root)) for p in stale)
            raise StackError(
                f"the {before} topology ran since the {name} one did: its connector moved the "
                f"replication slot past what the {name} cluster's connector stored, which would "
                f"fail on start. Delete the {name} cluster's data (`rm -r {dirs}`: its topics "
                f"and offsets; its connector then streams on from the slot, and what the {before} "
                f"cluster received stays there) or `make clean` "
                f"(everything), then `make up TOPOLOGY={name}`"
            )
    layout.conf.mkdir(parents=True, exist_ok=True)
    write_private(marker, f"{name}\n")
