-- Severity bands of rules v1 (LOW < 60 <= MEDIUM < 80 <= HIGH): a decision that disagrees is a bug
-- upstream, and must not reach Gold.
select payment_id, score, severity
from {{ ref('payment_facts') }}
where severity is not null
  and severity <> case when score >= 80 then 'HIGH' when score >= 60 then 'MEDIUM' else 'LOW' end
