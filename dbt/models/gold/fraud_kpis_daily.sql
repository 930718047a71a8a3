-- Fraud KPIs per event day (UTC): volume, alerts by severity, alert rate, amount at risk (alerted).
{{ fraud_kpis('day') }}
