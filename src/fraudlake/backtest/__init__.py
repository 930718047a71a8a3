"""Rule backtests and tuning on labelled history (`fraudlake backtest`, DAG `rules_backtest`).

One pass computes every payment's features in event-time order, as the stream would (`replay`);
each rule's hits come from the catalog's own checks; any rules version is then scored over those
hits with arrays (`scoring`), measured against honest labels (`labels`, `metrics`), searched under
an alert budget (`tune`) and reported for a person to review (`report`).
"""
