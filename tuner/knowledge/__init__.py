"""What tuner knows, each fact implemented once: the key catalog (``catalog``, data in
``tuner/data/catalog.yaml``), the connection model (``connections``: ports, reuse, TIME_WAIT),
the descriptor-limit decision (``nofile``), what is known about the target machine (``facts``),
the rules (``rules``: one function per rule id), the capacity arithmetic (``capacity``) and the
doctor's findings (``diagnosis``).

May import ``base``, ``machine``, ``profile``, ``model``.
"""
