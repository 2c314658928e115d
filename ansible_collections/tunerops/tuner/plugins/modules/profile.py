#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, tuner developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: profile
short_description: Apply or roll back a tuner profile (sysctls and resource limits)
version_added: "0.1.0"
description:
  - Runs C(tuner) on the managed host and reads its versioned JSON output, never its text.
  - With O(state=applied), plans the profile (C(tuner plan --json)) and applies it when anything
    differs (C(tuner apply --yes --json)), all or nothing; a second run reports no change.
  - With O(state=rolled_back), rolls back the newest apply still in effect
    (C(tuner rollback --yes --json)) when O(profile) is the profile applied (or is not given).
  - In check mode nothing is changed; C(changed) says truthfully whether a real run would change
    anything, and with C(--diff) every live key and every managed file is shown before and after.
  - On failure the task fails with tuner's own message and the reason for its exit code.
author:
  - tuner developers (@tuner-project)
options:
  profile:
    description:
      - A bundled or site profile name (for example V(haproxy-2m-conns)) or the path of a profile
        file on the managed host.
      - Required with O(state=applied). With O(state=rolled_back), roll back only when this is the
        applied profile.
    type: str
  state:
    description:
      - V(applied) makes the host match the profile; V(rolled_back) undoes the newest apply.
    type: str
    choices: [applied, rolled_back]
    default: applied
  restart_services:
    description:
      - After a systemd daemon-reload, try-restart the units whose limits changed.
    type: bool
    default: false
extends_documentation_fragment:
  - tunerops.tuner.host
attributes:
  check_mode:
    description: Runs C(tuner plan --json) and reports whether a real run would change anything.
    support: full
  diff_mode:
    description: Shows every live key and managed file before and after.
    support: full
notes:
  - tuner must be installed on the managed host (distribution C(tuner-sysctl), command C(tuner));
    the module needs no Python packages of its own.
seealso:
  - module: tunerops.tuner.status
"""

EXAMPLES = r"""
- name: Tune the proxies, a few at a time
  tunerops.tuner.profile:
    profile: haproxy-2m-conns

- name: Bake the profile into an image root (files only)
  tunerops.tuner.profile:
    profile: haproxy-2m-conns
    root: /mnt/image

- name: Undo it
  tunerops.tuner.profile:
    profile: haproxy-2m-conns
    state: rolled_back
"""

RETURN = r"""
changes:
  description: What was (or, in check mode, would be) changed, as in C(tuner plan --json).
  returned: always
  type: list
  elements: dict
  sample: [{"layer": "kernel", "action": "set", "key": "net.core.somaxconn", "current": "4096",
            "desired": "65535"}]
generation:
  description: The journal generation the apply or rollback created; null when nothing changed.
  returned: always
  type: int
  sample: 3
profile:
  description: The profile applied (or rolled back).
  returned: always
  type: str
  sample: haproxy-2m-conns
mode:
  description: V(host) (files and the running kernel) or V(image) (files only).
  returned: always
  type: str
  sample: host
systemd:
  description: What systemd was asked to do for changed unit drop-ins, a line each.
  returned: always
  type: list
  elements: str
  sample: ["PID 1 is not systemd: skipped `systemctl daemon-reload`."]
undoes:
  description: With O(state=rolled_back), the generations undone.
  returned: when state is rolled_back
  type: list
  elements: int
  sample: [3]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tunerops.tuner.plugins.module_utils.tuner_cli import (
    HOST_OPTIONS,
    diff_of,
    host_args,
    pending,
    run_tuner,
)


def applied(module):
    params = module.params
    where = host_args(params)
    plan = run_tuner(module, ["plan", params["profile"], "--json", *where])
    changes = pending(plan)
    result = {"changed": bool(changes), "changes": changes, "generation": None,
              "profile": plan.get("profile"), "mode": plan.get("mode"), "systemd": []}
    if module._diff:
        result["diff"] = diff_of(changes)
    if module.check_mode or not changes:
        module.exit_json(**result)
    command = ["apply", params["profile"], "--yes", "--json", *where]
    if params["restart_services"]:
        command.append("--restart-services")
    done = run_tuner(module, command)
    result.update(changed=bool(done.get("changed")), generation=done.get("generation"),
                  changes=done.get("changes", changes), systemd=done.get("systemd", []))
    module.exit_json(**result)


def rolled_back(module):
    params = module.params
    where = host_args(params)
    status = run_tuner(module, ["status", "--json", *where])
    current = status.get("applied")
    result = {"changed": False, "changes": [], "generation": None, "profile": current,
              "mode": status.get("mode"), "systemd": [], "undoes": []}
    if current is None or (params["profile"] and params["profile"] != current):
        module.exit_json(**result)
    below = [g.get("profile") for g in status.get("in_effect", [])[:-1]]
    result["changed"] = True
    if module._diff:
        result["diff"] = [{"before_header": "applied profile", "after_header": "applied profile",
                           "before": "%s\n" % current,
                           "after": "%s\n" % below[-1] if below else "(none)\n"}]
    if module.check_mode:
        result["undoes"] = [status.get("generation")]
        module.exit_json(**result)
    command = ["rollback", "--yes", "--json", *where]
    if params["restart_services"]:
        command.append("--restart-services")
    done = run_tuner(module, command)
    result.update(generation=done.get("generation"), undoes=done.get("undoes", []),
                  systemd=done.get("systemd", []))
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            HOST_OPTIONS,
            profile=dict(type="str"),
            state=dict(type="str", default="applied", choices=["applied", "rolled_back"]),
            restart_services=dict(type="bool", default=False),
        ),
        required_if=[("state", "applied", ["profile"])],
        supports_check_mode=True,
    )
    if module.params["state"] == "applied":
        applied(module)
    else:
        rolled_back(module)


if __name__ == "__main__":
    main()
