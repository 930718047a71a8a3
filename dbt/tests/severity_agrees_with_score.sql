-- Each decision's severity must be its rules version's band for its score (LOW < medium_from <=
-- MEDIUM < high_from <= HIGH), within that version's score cap, and the version must be one the
-- platform recorded: a decision that disagrees is a bug upstream, and must not reach Gold.
select f.payment_id, f.rules_version, f.score, f.severity
from {{ ref('int_payment_facts') }} as f
left join {{ ref('stg_ops__rules_versions') }} as v on v.rules_version = f.rules_version
where f.severity is not null
  and (
      v.rules_version is null
      or f.score > v.score_cap
      or f.severity <> case
          when f.score >= v.high_from then 'HIGH'
          when f.score >= v.medium_from then 'MEDIUM'
          else 'LOW'
      end
  )
