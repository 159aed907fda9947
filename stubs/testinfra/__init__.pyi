# Typed stubs for the part of testinfra the conformance suite uses; see stubs/README.md.
# testinfra annotates its code but ships no py.typed, and its own annotation of Host's
# dynamic modules (`host.interface`, `host.sysctl`, ...) is a class, not what they return.
from typing import Any

from testinfra import backend as backend
from testinfra import host as host
from testinfra.host import Host

def get_host(hostspec: str, **kwargs: Any) -> Host: ...
