#!/bin/sh
# Compose's Kafka: stack/conf/server.properties (the native stack's, shared) rendered with the
# container's listeners, the storage formatted once with the broker's and the admin's SCRAM
# credentials (the image's own start script cannot add them), then the broker. Passwords come
# from this container's environment; the rendered file is private to it.
set -eu
data=/var/lib/kafka/data
conf=/tmp/server.properties
umask 077
sed -e "s|\${controller_address}|kafka:9093|" \
    -e "s|\${listeners}|CLIENTS://:29092,HOST://:9092,CONTROLLER://:9093|" \
    -e "s|\${advertised_listeners}|CLIENTS://kafka:29092,HOST://127.0.0.1:9092|" \
    -e "s|\${protocol_map}|CONTROLLER:SASL_PLAINTEXT,CLIENTS:SASL_PLAINTEXT,HOST:SASL_PLAINTEXT|" \
    -e "s|\${kafka_data}|$data|" \
    -e "s|\${broker_password}|$KAFKA_BROKER_PASSWORD|" \
    -e "s|\${controller_password}|$KAFKA_CONTROLLER_PASSWORD|" \
    /stack/conf/server.properties > "$conf"
# The health check logs in as the admin principal, from a file rather than the command line.
printf '%s\n' "security.protocol=SASL_PLAINTEXT" "sasl.mechanism=SCRAM-SHA-512" \
    "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$KAFKA_ADMIN_PASSWORD\";" \
    > /tmp/admin.properties
if [ ! -f "$data/meta.properties" ]; then
    /opt/kafka/bin/kafka-storage.sh format -t "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" \
        -c "$conf" \
        --add-scram "SCRAM-SHA-512=[name=broker,password=$KAFKA_BROKER_PASSWORD]" \
        --add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$conf"
