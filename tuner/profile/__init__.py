"""The profile language: reading YAML with positions (``yamlsrc``), the models of one file
(``document``, pydantic, loaded only when a file is parsed), ``extends`` resolved (``resolve``)
into the plain ``resolved.Profile`` everything else reads, the cache of resolved profiles
(``cached``), where profiles are found (``library``), what a profile argument names (``ref``) and
the flattened, vendored form (``vendored``).

May import ``base``, ``machine``.
"""
