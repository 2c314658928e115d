"""The vocabulary every layer shares, and nothing else: the exception tree and exit codes
(``errors``), located messages (``diagnostics``), what text may go into a line tuner writes
(``safetext``), the syntax of the three kinds of value (sysctl keys: ``keys``; limits.conf values:
``limits``; systemd ``Limit*=``: ``services``), the cache's plain data (``plaindata``), the JSON
envelope (``envelope``) and how counts are written (``wording``). Pure: no file, no kernel.

May import nothing of tuner but its version.
"""
