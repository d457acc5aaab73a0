"""Transfer metrics, sensitivity analyses (AFS, APS) and the report. No Ray, no training."""

from analysis.metrics import (
    area_under_curve,
    count_transfer_signs,
    forgetting,
    forward_transfer,
    speed_up,
    steps_to_threshold,
    summarize_transfer,
    top_k_mean,
    transfer_score,
)

__all__ = [
    "area_under_curve",
    "count_transfer_signs",
    "forgetting",
    "forward_transfer",
    "speed_up",
    "steps_to_threshold",
    "summarize_transfer",
    "top_k_mean",
    "transfer_score",
]
