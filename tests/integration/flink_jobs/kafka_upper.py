"""A small Flink SQL job for the platform tests: copy records between two Kafka topics.

Arguments: BOOTSTRAP SOURCE_TOPIC SINK_TOPIC GROUP_ID MODE, where MODE is `bounded` (stop at the
source's latest offsets, the job then FINISHES) or `unbounded` (run until cancelled).
"""

import sys

from pyflink.table import EnvironmentSettings, TableEnvironment


def main(bootstrap: str, source: str, sink: str, group: str, mode: str) -> None:
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    bounded = "'scan.bounded.mode' = 'latest-offset'," if mode == "bounded" else ""
    env.execute_sql(f"""
        CREATE TABLE source_records (payment_id STRING, amount DOUBLE) WITH (
          'connector' = 'kafka', 'topic' = '{source}',
          'properties.bootstrap.servers' = '{bootstrap}', 'properties.group.id' = '{group}',
          'scan.startup.mode' = 'earliest-offset', {bounded}
          'format' = 'json')""")
    env.execute_sql(f"""
        CREATE TABLE sink_records (payment_id STRING, amount_cents BIGINT) WITH (
          'connector' = 'kafka', 'topic' = '{sink}',
          'properties.bootstrap.servers' = '{bootstrap}', 'format' = 'json')""")
    env.execute_sql("""
        INSERT INTO sink_records
        SELECT UPPER(payment_id), CAST(ROUND(amount * 100) AS BIGINT) FROM source_records""")


if __name__ == "__main__":
    main(*sys.argv[1:6])
