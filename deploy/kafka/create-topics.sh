#!/usr/bin/env bash
# Creates jit's topics on a Kafka cluster: KAFKA_BIN=/opt/kafka/bin BOOTSTRAP=broker:9092 ./create-topics.sh
set -euo pipefail
: "${BOOTSTRAP:?set BOOTSTRAP=host:port}"
KT="${KAFKA_BIN:-/opt/kafka/bin}/kafka-topics.sh"
RF="${REPLICATION_FACTOR:-3}"
"$KT" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic jit.elevations.v1 --partitions 12 --replication-factor "$RF" --config retention.ms=-1 --config min.insync.replicas=2
"$KT" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic jit.gitlab.v1 --partitions 12 --replication-factor "$RF" --config retention.ms=1209600000 --config min.insync.replicas=2
"$KT" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic jit.gitlab.v1.dlq --partitions 3 --replication-factor "$RF" --config retention.ms=-1
"$KT" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic jit.elevations.v1.dlq --partitions 3 --replication-factor "$RF" --config retention.ms=-1
