"""costplane: a self-hosted cost-control plane for GPU infrastructure (measure, forecast, decide, act, replay)."""

__version__ = "0.1.0"
