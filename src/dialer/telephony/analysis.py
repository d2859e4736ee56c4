"""Where a provider's call object carries the post-call analysis (Retell's
``call_analysis.custom_analysis_data`` and ``collected_dynamic_variables``). Merging a
late analysis into an ended attempt is the call domain's (``dialer.call.analysis``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def analysis_sources(call: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(custom_analysis_data, collected_dynamic_variables) of a Retell call object, each
    a dict (empty when absent or malformed)."""
    analysis = call.get("call_analysis") or {}
    custom = analysis.get("custom_analysis_data") if isinstance(analysis, Mapping) else None
    collected = call.get("collected_dynamic_variables")
    return (
        dict(custom) if isinstance(custom, Mapping) else {},
        dict(collected) if isinstance(collected, Mapping) else {},
    )
