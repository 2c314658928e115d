"""How the real consumers read the files tuner writes, tested against them: boot (``sysctld``: the
precedence of sysctl.d directories, systemd-sysctl's and procps' rules) and login
(``pamlimits``: how pam_limits ranks and parses limits lines).

May import ``base``, ``machine``.
"""
