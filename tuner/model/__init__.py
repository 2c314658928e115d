"""How the real consumers read the files tuner writes, tested against them: boot (``sysctld``: the
precedence of sysctl.d directories, systemd-sysctl's and procps' rules) and login
(``pamlimits``: how pam_limits ranks and parses limits lines), systemd's ``Limit*=`` in unit files
and drop-ins (``unitfiles``) and tuned's profile loader (``tuned``), which ``tuner import`` reads.

May import ``base``, ``machine``.
"""
