"""Implementation conformance: a container-network implementation (ctrnet's reference model,
or a plugin under test through the `Implementation` adapter) does its job, as observed
through the backend: addresses, links, routes, rules and probes, never its own claims."""
