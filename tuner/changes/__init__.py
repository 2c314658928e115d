"""What tuner would write and how it differs from what is there: the files rendered from
``templates/`` (``render``), the order of live writes (``order``), the plan (``plan``: kernel,
file, boot and login changes), drift (``drift``) and the cloud-init document (``cloudinit``).

May import ``base``, ``machine``, ``profile``, ``model``, ``knowledge``.
"""
