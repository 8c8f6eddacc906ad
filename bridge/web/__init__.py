"""The bridge endpoint's pages for people and monitors: health, metrics, the status page."""

from bridge.web.metrics import Metrics
from bridge.web.routes import register

__all__ = ["Metrics", "register"]
