"""Backends: the real kernel (`kernel`) and the simulator (`sim`), behind
`ctrnet.backend.Backend`."""
