#!/bin/bash
# Creates fraudlake's topics on the compose cluster (partitions/retention as in src/fraudlake/topics.py).
set -euo pipefail
BOOTSTRAP=kafka-1:9092
create() {
  /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$1" --partitions "$2" --replication-factor 3 --config "retention.ms=$3"
}
DAY=86400000
create payments 6 $((7 * DAY))
create payment-scores 6 $((7 * DAY))
create fraud-alerts 3 $((30 * DAY))
create payments-dlq 1 $((30 * DAY))
create chargebacks 3 $((180 * DAY))
create ground-truth 3 $((180 * DAY))
