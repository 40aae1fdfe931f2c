"""Early warning and portfolio monitoring.

The modules follow the data flow:

- :mod:`~healthlab.monitoring.config`: typed rule parameters, severities, cooldown
  and the rule-to-playbook map, read from the ``alerts:`` key of the model file.
- :mod:`~healthlab.monitoring.series`: per-client monthly series built from a
  dataset and its scores (the inputs of the rules).
- :mod:`~healthlab.monitoring.rules`: one function per rule over one client's
  series, returning the months in which the rule fires.
- :mod:`~healthlab.monitoring.monitor`: runs the rules, applies the cooldown and
  returns the alerts of one month (:func:`~healthlab.monitoring.monitor.run_monitor`).
- :mod:`~healthlab.monitoring.backtest`: replays the monitor over history and
  measures lead time, precision, recall and alert volume against churn.
- :mod:`~healthlab.monitoring.drift`: population stability index between periods.
- :mod:`~healthlab.monitoring.portfolio`: the tables of the portfolio notebook and
  :func:`~healthlab.monitoring.portfolio.render_portfolio_report`.

This package imports nothing at import time, because :mod:`healthlab.model` imports
:mod:`healthlab.monitoring.config` and the other modules import the model.
"""
