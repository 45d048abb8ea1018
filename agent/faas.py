"""Helpers for programs running in a FaaS sandbox (importable as `faas` in every runtime image).

    from faas import progress
    progress(40, "loading")   # percent 0..100, an optional message

Each call sends one progress report of the running execution to whoever started it. Outside a
sandbox (no FAAS_PROGRESS_FD) it does nothing. Returns True when the report was sent.
"""

import json
import math
import os

__all__ = ["progress"]


def progress(percent, message=""):
    """Reports progress: percent (a number, kept within 0..100) and an optional message."""
    if isinstance(percent, bool):
        raise TypeError("progress: percent must be a number, not a bool")
    p = float(percent)  # a TypeError or ValueError for what is not a number
    if math.isnan(p):
        raise ValueError("progress: percent must be a number, not NaN")
    fd = os.environ.get("FAAS_PROGRESS_FD")
    if not fd:
        return False
    line = json.dumps({"percent": min(100.0, max(0.0, p)), "message": str(message)[:1000]}) + "\n"
    try:
        os.write(int(fd), line.encode("utf-8", "replace"))
    except (OSError, ValueError):
        return False
    return True
