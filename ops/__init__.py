"""The operator's toolkit: what is on a topic, what a message says, who is behind, is the
connector healthy, is the replication slot holding WAL, and replaying dead letters.

``python -m ops VERB`` (the ``make`` verbs call it). Human output is a table; ``--json`` gives
the same facts to scripts. Each failure names what was unreachable and where it was looked for.
"""
