-- One row per simulated payment: what it really was (fraud or not, and its scenario or persona).
-- Only the simulator knows this; it is the label that detection quality per scenario counts on.
select payment_id, is_fraud, scenario, loaded_at
from ({{ first_copy(source('bronze', 'ground_truth'), 'payment_id', 'kafka_timestamp, kafka_partition, kafka_offset') }}) as t
