"""The streaming scoring job: its spec, its generated Flink SQL, its PyFlink program and its control."""
