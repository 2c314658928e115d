#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, tuner developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: status_info
short_description: Report a host's applied tuner profile, its drift and unfinished runs
version_added: "0.2.0"
description:
  - Runs C(tuner status --json) on the managed host. Never changes anything, and so always
    reports C(changed=false).
  - A managed file that drifted is reported line by line (C(added) and C(removed) in RV(drift),
    and RV(drift_lines)); a live value with what it is and what was applied.
  - With O(fail_on_drift=true), a host that drifted, has an unfinished run, or has limits that
    cannot take effect fails the task, with the differences in the message.
  - Replaces C(tunerops.tuner.status), which reported C(changed) for drift; that name now
    redirects here.
author:
  - tuner developers (@tuner-project)
options:
  fail_on_drift:
    description:
      - Fail the task when the host drifted, a run is unfinished, or applied limits cannot take
        effect.
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
  tunerops.tuner.status_info:
  register: tuned

- name: Fail where a host drifted
  tunerops.tuner.status_info:
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
  description: Each difference, as C(tuner status --json) reports it; a file's content with
    the lines added and removed since it was applied, and the unified diff.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/etc/sysctl.d/99-tuner.conf", "aspect": "content",
            "added": ["net.core.somaxconn = 1234"], "removed": []},
           {"key": "net.core.somaxconn", "aspect": "value", "expected": "65535",
            "found": "4096"}]
drift_lines:
  description: Each difference in one line, as C(tuner status) prints it, with a file's changed
    lines after it.
  returned: always
  type: list
  elements: str
  sample: ["/etc/sysctl.d/99-tuner.conf: changed since it was applied: 1 line added",
           "  + net.core.somaxconn = 1234"]
metrics:
  description: The figures C(tuner status --format prometheus) writes for node_exporter, as
    C(tuner status --json) gives them (each family with its samples' labels and values).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "tuner_drift_differences", "type": "gauge", "help": "...",
            "samples": [{"labels": {"kind": "content"}, "value": 1}]}]
ineffective:
  description: Applied limits no new session can get on this host, and why.
  returned: always
  type: list
  elements: str
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


def drift_lines(drift):
    """Each difference as tuner status prints it, a file's changed lines under it."""
    lines = []
    for found in drift:
        what = found.get("path") or found.get("key")
        if found.get("aspect") == "content":
            said = []
            if found.get("added"):
                said.append("%d line%s added" % (len(found["added"]),
                                                 "" if len(found["added"]) == 1 else "s"))
            if found.get("removed"):
                said.append("%d line%s removed" % (len(found["removed"]),
                                                   "" if len(found["removed"]) == 1 else "s"))
            lines.append("%s: changed since it was applied: %s"
                         % (what, ", ".join(said) or "bytes differ"))
            lines += ["  + %s" % line for line in found.get("added", [])]
            lines += ["  - %s" % line for line in found.get("removed", [])]
        else:
            lines.append("%s: %s is %s, expected %s" % (what, found.get("aspect"),
                                                        found.get("found"), found.get("expected")))
    return lines


def main():
    module = AnsibleModule(
        argument_spec=dict(HOST_OPTIONS, fail_on_drift=dict(type="bool", default=False)),
        supports_check_mode=True,
    )
    status = run_tuner(module, ["status", "--json", *host_args(module.params)])
    result = {key: status.get(key) for key in ("applied", "generation", "drifted", "drift",
                                               "incomplete", "in_effect", "mode")}
    result["ineffective"] = status.get("ineffective", [])
    result["metrics"] = status.get("metrics", [])
    result["drift_lines"] = drift_lines(status.get("drift") or [])
    problems = result["drift_lines"] + list(status.get("incomplete") or []) + result["ineffective"]
    if problems and module.params["fail_on_drift"]:
        module.fail_json(msg="the host is not as tuner left it:\n%s" % "\n".join(problems),
                         changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
