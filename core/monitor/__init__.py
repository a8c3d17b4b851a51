"""Monitoring: the prediction ledger, its scores, alert rules, alert channels and drift.

Modules (each small, each usable alone):

- ``ledger``   log forecasts beside the naive baseline; reconcile them with actuals.
- ``scores``   RMSE/MAE/MAPE, MAE ratio to naive, interval coverage and hit rate over the ledger.
- ``alerts``   alert rules, threshold checks, and episode bookkeeping in ``alerts``.
- ``channels`` deliver alerts to the log, a Slack-style webhook and SMTP, with retries.
- ``drift``    Page-Hinkley/ADWIN/KSWIN over standardised errors (volatility, bias, shape).
- ``published`` the bands every front door publishes: the ledger-driven ACI layer.
- ``daily``    one day of monitoring for one symbol (reconcile, drift, alerts, deliveries).
- ``replay``   the daily pipeline replayed over stored history (demo, resumable).
- ``calibration`` false alarms and 2008 delay, replayed on the bundled series.
"""
