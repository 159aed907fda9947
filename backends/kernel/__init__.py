"""The kernel backend: ctrnet's Backend protocol on real network namespaces (pyroute2).

`KernelBackend()` is one world: a sandbox host namespace plus the namespaces it is asked for,
all removed by `close()`. Needs root. See `backend.py` for the operations, `spaces.py` and
`nsfs.py` for how namespaces are made and entered without forking.
"""

from .backend import KernelBackend
from .lifecycle import NETNS_PREFIX, sweep_stale

__all__ = ["NETNS_PREFIX", "KernelBackend", "sweep_stale"]
