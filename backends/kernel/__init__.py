"""The kernel backend: ctrnet's Backend protocol on real network namespaces (pyroute2).

`backend.KernelBackend()` is one world: a sandbox host namespace plus the namespaces it is
asked for, all removed by `close()`. Needs root, and pyroute2 (the `kernel` extra:
`pip install 'ctrnet[kernel]'`). This package imports no pyroute2 itself, so the parts that
need none (the TRACE parser, namespace sweeping) work without it; `ctrnet.registry` opens
the backend. See `backend.py` for the operations, `spaces.py` and `nsfs.py` for how
namespaces are made and entered without forking.
"""

from .lifecycle import NETNS_PREFIX, sweep_stale

__all__ = ["NETNS_PREFIX", "sweep_stale"]
