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
  - With O(state=rolled_back), rolls back the newest apply of O(profile) while it is the
    profile in effect (C(tuner rollback --yes --json)), or with O(to) every apply in effect from
    generation O(to) on; once it is undone, a second run reports no change.
  - The plan's warnings (a key another file overrides at boot, a limit that cannot take effect)
    are returned as the task's warnings; with O(strict=true) they fail the task before anything
    is changed.
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
      - Required with O(state=applied). With O(state=rolled_back), the profile to undo (a name or
        a path, told apart as tuner does), undone only while it is the newest apply in effect.
      - With O(state=rolled_back), O(profile) or O(to) is required.
    type: str
  to:
    description:
      - With O(state=rolled_back), undo every apply in effect from generation O(to) on
        (C(tuner rollback --to N)); nothing to do once generation O(to) is not in effect.
    type: int
  force:
    description:
      - With O(state=rolled_back), also discard changes made by hand since the applies it undoes
        (C(tuner rollback --force)). Without it, such changes fail the task with tuner's list of
        them, and nothing is changed.
    type: bool
    default: false
  strict:
    description:
      - Fail, changing nothing, when the plan has warnings (for example a key another file
        overrides at boot, so that the rollout would look green and not hold after a reboot).
    type: bool
    default: false
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

- name: Undo it (while it is the profile in effect; a second run changes nothing)
  tunerops.tuner.profile:
    profile: haproxy-2m-conns
    state: rolled_back

- name: Refuse a rollout that would not survive a reboot
  tunerops.tuner.profile:
    profile: haproxy-2m-conns
    strict: true
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
discarded:
  description: With O(state=rolled_back) and O(force=true), the changes made by hand since that
    the rollback discarded, as C(tuner rollback --json) lists them.
  returned: when state is rolled_back
  type: list
  elements: dict
  sample: [{"path": "/etc/sysctl.d/99-tuner.conf", "aspect": "content",
            "added": ["net.core.somaxconn = 1234"], "removed": []}]
tuner_warnings:
  description: The plan's warnings, as tuner prints them (also shown as the task's warnings).
  returned: when state is applied
  type: list
  elements: str
  sample: ["net.core.somaxconn: warning: at boot /etc/sysctl.d/zz.conf:1 sets 5 after tuner's
           file [boot-shadowed]"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tunerops.tuner.plugins.module_utils.tuner_cli import (
    HOST_OPTIONS,
    diff_of,
    host_args,
    pending,
    run_tuner,
    warnings_of,
)


def applied(module):
    params = module.params
    where = host_args(params)
    plan = run_tuner(module, ["plan", params["profile"], "--json", *where])
    changes = pending(plan)
    warned = warnings_of(plan)
    for text in warned:
        module.warn(text)
    result = {"changed": bool(changes), "changes": changes, "generation": None,
              "profile": plan.get("profile"), "mode": plan.get("mode"), "systemd": [],
              "tuner_warnings": warned}
    if params["strict"] and warned:
        module.fail_json(msg="strict: the plan has %d warning%s, nothing was changed:\n%s"
                         % (len(warned), "" if len(warned) == 1 else "s", "\n".join(warned)),
                         **result)
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


def profile_name(module, where):
    """The name of the profile the task names: a path is read as tuner reads it (its name:)."""
    given = module.params["profile"]
    if "/" not in given and not given.endswith((".yaml", ".yml")):
        return given
    return run_tuner(module, ["show", given, "--json", *where]).get("name")


def rolled_back(module):
    params = module.params
    where = host_args(params)
    if not params["profile"] and params["to"] is None:
        module.fail_json(msg="state=rolled_back needs profile (the profile to undo) or to (a "
                         "generation): without them every run would undo one more apply")
    status = run_tuner(module, ["status", "--json", *where])
    stack = status.get("in_effect", [])
    result = {"changed": False, "changes": [], "generation": None,
              "profile": status.get("applied"), "mode": status.get("mode"), "systemd": [],
              "undoes": [], "discarded": []}
    if params["to"] is not None:
        undo = [g for g in stack if g.get("generation", 0) >= params["to"]]
        target = params["to"]
    else:
        name = profile_name(module, where)
        result["profile"] = name
        mine = [g for g in stack if g.get("profile") == name]
        if mine and mine[-1] is not stack[-1]:
            above = stack[-1]
            module.fail_json(msg="%s (generation %s) is in effect under %s (generation %s): roll "
                             "back %s first, or give to: %s to undo both"
                             % (name, mine[-1]["generation"], above.get("profile"),
                                above.get("generation"), above.get("profile"),
                                mine[-1]["generation"]), **result)
        undo = mine[-1:]
        target = mine[-1]["generation"] if mine else None
    if not undo:
        module.exit_json(**result)  # not in effect: nothing to undo, however often it runs
    result["changed"] = True
    result["undoes"] = [g.get("generation") for g in undo]
    below = [g.get("profile") for g in stack if g.get("generation", 0) < target]
    if module._diff:
        result["diff"] = [{"before_header": "applied profile", "after_header": "applied profile",
                           "before": "%s\n" % stack[-1].get("profile"),
                           "after": "%s\n" % (below[-1] if below else "(none)")}]
    if module.check_mode:
        module.exit_json(**result)
    command = ["rollback", "--to", str(target), "--yes", "--json", *where]
    if params["force"]:
        command.append("--force")
    if params["restart_services"]:
        command.append("--restart-services")
    done = run_tuner(module, command)
    result.update(generation=done.get("generation"), undoes=done.get("undoes", []),
                  systemd=done.get("systemd", []), changes=done.get("changes", []),
                  discarded=done.get("discarded", []))
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            HOST_OPTIONS,
            profile=dict(type="str"),
            state=dict(type="str", default="applied", choices=["applied", "rolled_back"]),
            to=dict(type="int"),
            force=dict(type="bool", default=False),
            strict=dict(type="bool", default=False),
            restart_services=dict(type="bool", default=False),
        ),
        required_if=[("state", "applied", ["profile"])],
        mutually_exclusive=[("profile", "to")],
        supports_check_mode=True,
    )
    if module.params["state"] == "applied":
        applied(module)
    else:
        rolled_back(module)


if __name__ == "__main__":
    main()
