"""The conformance suite, shipped in the package.

Run it with `pytest --pyargs ctrnet.conformance --backend sim|kernel`.

`backend/` pins how the primitives behave (the kernel passes it by definition; the simulator
must). The pytest plugin (`plugin.py`) gives the `--backend` option and the fixtures.
"""
