"""The runtime's adapters to Postgres and Kafka, apart from the ports they implement
(``consumer_runtime.ports``)."""
