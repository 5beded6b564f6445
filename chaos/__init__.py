"""Fault injection: a workload through the HTTP API, faults at random moments, and a checker
that compares the final state with the ground truth (``make chaos``, and a short variant in
``make test``). Nothing lost, nothing applied twice, under crashes, restarts and bad input."""
