-- How scores spread, per rules version and band of ten points (0-9 ... 90-99, and 100): payments,
-- alerts, and for simulated traffic the frauds and legitimate payments by the simulator's truth.
select
    rules_version,
    least(score / 10 * 10, 100)::integer as score_band,
    count(*)::bigint as payments,
    count(*) filter (where is_alert)::bigint as alerts,
    count(*) filter (where is_fraud)::bigint as frauds_truth,
    count(*) filter (where not is_fraud)::bigint as legitimate_truth
from {{ ref('int_payment_facts') }}
where rules_version is not null
group by 1, 2
