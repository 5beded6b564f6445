"""Use cases (``services``), the unit of work and event bus they depend on (as Protocols)."""
