-- Fraud KPIs per event hour: volume, alerts by severity, alert rate, amount at risk (alerted).
{{ fraud_kpis('hour') }}
