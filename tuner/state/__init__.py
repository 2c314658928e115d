"""What tuner remembers so that every change can be undone: the journal of generations
(``journal``), the all-or-nothing transaction (``transaction``), the choice of what a rollback
undoes (``recovery``) and saved plans (``savedplan``).

May import ``base``, ``machine``, ``profile``, ``changes``.
"""
