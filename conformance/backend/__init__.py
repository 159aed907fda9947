"""Backend conformance: the primitives behave like Linux, on every backend."""
