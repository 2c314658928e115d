"""What tuner would write and how it differs from what is there: the files rendered from
``templates/`` (``render``), the order of live writes (``order``), the plan (``plan``: kernel,
file, boot and login changes), drift (``drift``), the cloud-init document (``cloudinit``), the
Kubernetes manifests (``kubernetes``), the metrics timer's units (``metricsunits``) and how those
documents are written as YAML (``yamlout``).

May import ``base``, ``machine``, ``profile``, ``model``, ``knowledge``.
"""
