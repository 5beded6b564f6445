#!/bin/sh
# Compose's Connect: the REST API's operator credentials written to files private to this
# container (Kafka's BasicAuthSecurityRestExtension reads them through JAAS), then the Debezium
# image's own entrypoint. REST_OPERATOR_PASSWORD (CONNECT_REST_PASSWORD in .env; not named
# CONNECT_*, which the image would turn into a logged worker property) is the only secret
# besides the worker's Kafka login and the Debezium role's password this container is given.
set -eu
umask 077
printf 'operator: %s\n' "$REST_OPERATOR_PASSWORD" > /tmp/connect-rest.passwords
cat > /tmp/connect-rest.jaas <<JAAS
KafkaConnect {
  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required
  file="/tmp/connect-rest.passwords";
};
JAAS
export KAFKA_OPTS="${KAFKA_OPTS:-} -Djava.security.auth.login.config=/tmp/connect-rest.jaas"
exec /docker-entrypoint.sh start
