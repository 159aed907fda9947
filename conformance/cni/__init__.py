"""Implementation conformance of CNI plugins: the grader's checks of what a plugin built,
observed through the backend, one module per checklist item (plus the CNI contract itself).
"""
