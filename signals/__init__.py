"""ML signals for the directional BTC modes: features, walk-forward model, predictions in the catalog.

``python -m signals build`` writes :class:`adapters.signals.SignalPrediction` rows (and a model
record and evaluation) into the catalog; :mod:`signals.store` reads them back. Every prediction
stamped ``t`` uses data stamped at or before ``t`` only, and a model trained on labels known before
its window starts.
"""
