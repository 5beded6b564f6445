#!/bin/sh
# Compose's Connect: the REST API's operator credentials written to files private to this
# container (Kafka's BasicAuthSecurityRestExtension reads them through JAAS), then the Debezium
# image's own entrypoint. CONNECT_REST_PASSWORD is the only secret besides the worker's Kafka
# login and the Debezium role's password that this container is given.
set -eu
umask 077
printf 'operator: %s\n' "$CONNECT_REST_PASSWORD" > /tmp/connect-rest.passwords
cat > /tmp/connect-rest.jaas <<JAAS
KafkaConnect {
  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required
  file="/tmp/connect-rest.passwords";
};
JAAS
export KAFKA_OPTS="${KAFKA_OPTS:-} -Djava.security.auth.login.config=/tmp/connect-rest.jaas"
exec /docker-entrypoint.sh start
