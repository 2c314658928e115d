"""The command line: ``main`` (the root command), ``group`` (exceptions to messages and exit codes,
the only place), ``registry`` (each verb loaded when it runs), ``options`` (what the verbs share),
one module per verb (parse -> operation -> render), ``views`` (human output), ``report``
(printing, escaping, ``--json``) and ``review`` (the terminal's side of apply and rollback).

May import ``base``, ``machine``, ``profile``, ``knowledge``, ``changes``, ``state``, ``app``.
"""
