"""The metrics, moved into a package; the next commit splits ``relevance`` into one module per job."""

from evals.metrics.relevance import *  # noqa: F403
from evals.metrics.relevance import METRIC_VERSION  # noqa: F401
