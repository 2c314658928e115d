#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, tuner developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: status
short_description: Report a host's applied tuner profile, its drift and unfinished runs
version_added: "0.1.0"
description:
  - Runs C(tuner status --json) on the managed host. Never changes anything.
  - C(changed) is true when the host is not as its applies left it (a file or live value drifted,
    or a run is unfinished), so one check-mode run over a fleet counts the drifted hosts in the
    play recap.
author:
  - tuner developers (@tuner-project)
options:
  fail_on_drift:
    description:
      - Fail the task when the host drifted or a run is unfinished.
    type: bool
    default: false
extends_documentation_fragment:
  - tunerops.tuner.host
attributes:
  check_mode:
    description: Status changes nothing, in check mode or not.
    support: full
  diff_mode:
    description: Drift is returned in RV(drift), not as a diff.
    support: none
seealso:
  - module: tunerops.tuner.profile
"""

EXAMPLES = r"""
- name: Drift across the fleet
  tunerops.tuner.status:
  register: tuned

- name: Fail where a host drifted
  tunerops.tuner.status:
    fail_on_drift: true
"""

RETURN = r"""
applied:
  description: The profile in effect, or null.
  returned: always
  type: str
  sample: haproxy-2m-conns
generation:
  description: The generation of the apply in effect, or null.
  returned: always
  type: int
  sample: 3
drifted:
  description: Whether any managed file or live value differs from what the applies left.
  returned: always
  type: bool
  sample: false
drift:
  description: Each difference, as C(tuner status --json) reports it.
  returned: always
  type: list
  elements: dict
  sample: []
incomplete:
  description: Runs a killed tuner left unfinished, and what to do about each.
  returned: always
  type: list
  elements: str
  sample: []
in_effect:
  description: The applies in effect, oldest first.
  returned: always
  type: list
  elements: dict
  sample: [{"generation": 3, "profile": "haproxy-2m-conns", "status": "complete"}]
mode:
  description: V(host) or V(image).
  returned: always
  type: str
  sample: host
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tunerops.tuner.plugins.module_utils.tuner_cli import (
    HOST_OPTIONS,
    host_args,
    run_tuner,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(HOST_OPTIONS, fail_on_drift=dict(type="bool", default=False)),
        supports_check_mode=True,
    )
    status = run_tuner(module, ["status", "--json", *host_args(module.params)])
    result = {key: status.get(key) for key in
              ("applied", "generation", "drifted", "drift", "incomplete", "in_effect", "mode")}
    attention = bool(status.get("drifted") or status.get("incomplete"))
    if attention and module.params["fail_on_drift"]:
        module.fail_json(msg="the host is not as tuner left it", **result)
    module.exit_json(changed=attention, **result)


if __name__ == "__main__":
    main()
