from typing import Any

def get_parameters(kwarg: dict[str, float]) -> dict[str, Any]:
    """TCA_OPTIONS attributes of a tbf qdisc: rate (bytes/s), burst (bytes), latency (us)."""
