"""The operations, one module per verb, each taking typed inputs and returning a typed result with
its own ``to_json()``; nothing here prints. apply and rollback own their whole workflow,
confirmation included (through ``workflow.Review``), and tell systemd (``units``). status and
doctor as Prometheus metrics: ``metrics``.

May import ``base``, ``machine``, ``profile``, ``model``, ``knowledge``, ``changes``, ``state``.
"""
