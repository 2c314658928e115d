"""The command line: ``main`` (the root command), ``group`` (exceptions to messages and exit codes,
the only place), ``registry`` (each verb loaded when it runs), ``options`` (what the verbs share),
one module per verb (parse -> operation -> render), ``views`` (human output), ``report``
(printing, escaping, ``--json``), ``review`` (the terminal's side of apply and rollback),
``usage`` (help and usage errors in tuner's words), ``formats`` (--format, --textfile) and
``completer`` (a TAB, answered fast).

May import ``base``, ``machine``, ``profile``, ``model``, ``knowledge``, ``changes``, ``state``,
``app``.
"""
