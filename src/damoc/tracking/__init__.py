"""Experiment trackers (``report_to``): TensorBoard and MLflow, one module each.

The contract is :class:`damoc.tracking.base.Tracker`; importing this package imports neither
tracker's package (they are optional and loaded when a tracker first writes).
"""

from damoc.tracking import mlflow, tensorboard
from damoc.tracking.base import TRACKERS, MetricsFn, Tracker, TrackerWriter, open_tracking, track

__all__ = ["TRACKERS", "MetricsFn", "Tracker", "TrackerWriter", "mlflow", "open_tracking", "tensorboard", "track"]
