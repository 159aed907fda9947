"""Grading container-network implementations against the guide's six-item checklist.

`checklist` names the items, `runner` runs the implementation-conformance suite against an
implementation (ctrnet's own model or a CNI plugin, see `cni`) and `report` renders what
came out for people (table, Markdown) and machines (JSON, Gradescope, JUnit).
"""
