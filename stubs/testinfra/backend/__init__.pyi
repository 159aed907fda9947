#: URL scheme -> "module.Class" of the connection backend.
BACKENDS: dict[str, str]
