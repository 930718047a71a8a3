-- One row per customer: the operational profile (ops.customer_profiles, kept by the simulator/app).
select customer_id, country, timezone, registered_at, email_domain
from {{ source('ops', 'customer_profiles') }}
