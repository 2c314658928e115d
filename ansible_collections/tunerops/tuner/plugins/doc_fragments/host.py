# -*- coding: utf-8 -*-
# Copyright: (c) 2026, tuner developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The options every module of this collection takes (module_utils.tuner_cli.HOST_OPTIONS)."""

    DOCUMENTATION = r"""
options:
  root:
    description:
      - The filesystem whose C(/etc) tuner manages. Any root other than C(/) is an image, and
        then only files are read and written; the running kernel is never read or written.
    type: path
  proc_sys:
    description:
      - Use this directory as the kernel's C(/proc/sys).
    type: path
  no_kernel:
    description:
      - Never read or write the running kernel, even with O(root=/) (image builds in a chroot).
    type: bool
    default: false
  tuner_path:
    description:
      - The tuner executable on the managed host (distribution C(tuner-sysctl)).
    type: str
    default: tuner
"""
