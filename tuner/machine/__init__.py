"""The doors to the machine, and the only code that touches it: the root filesystem (``rootfs``,
``host``: files opened inside the root, the lock), the kernel (``kernel``: /proc/sys and /proc,
``live``: cached reads of it; ``sockets``: the netlink census; ``processes``: descriptors;
``sessions``: what a login can get), systemd (``systemd``), signals (``signals``) and the per-user
cache (``cache``). Every root is an argument; tests inject fakes.

May import ``base``.
"""
