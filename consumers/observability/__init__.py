"""What the consumers show the outside: Prometheus metrics, health probes, traces."""
