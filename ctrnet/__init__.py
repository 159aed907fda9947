"""ctrnet: a testbed and conformance suite for Linux container networking.

The core model (`ctrnet`) plans; a Backend (`ctrnet.backends.kernel` or `ctrnet.backends.sim`)
acts. `open_backend("sim")` gives a simulated world, `open_backend("kernel")` a real one in
throw-away namespaces.
"""

from ctrnet.backend import HOST_NS, Backend
from ctrnet.registry import open_backend

__all__ = ["HOST_NS", "Backend", "open_backend"]
__version__ = "0.1.0"
