# -*- coding: utf-8 -*-
# Copyright: (c) 2026, tuner developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running tuner and reading its versioned JSON, for the modules of this collection."""

from __future__ import annotations

import json

FORMAT_VERSION = 1
EXIT_REASONS = {
    1: "error",
    2: "changes pending",
    3: "internal error in tuner",
    64: "usage error",
    129: "interrupted (SIGHUP)",
    130: "interrupted (SIGINT)",
    141: "output closed",
    143: "interrupted (SIGTERM)",
}
CHANGING = ("set", "create", "update", "delete")
# The options every module of this collection takes: where tuner runs and what it reads.
HOST_OPTIONS = dict(
    root=dict(type="path"),
    proc_sys=dict(type="path"),
    no_kernel=dict(type="bool", default=False),
    tuner_path=dict(type="str", default="tuner"),
)


def host_args(params):
    """--root, --proc-sys and --no-kernel from the module's options."""
    args = []
    if params.get("root"):
        args += ["--root", params["root"]]
    if params.get("proc_sys"):
        args += ["--proc-sys", params["proc_sys"]]
    if params.get("no_kernel"):
        args.append("--no-kernel")
    return args


def run_tuner(module, args):
    """Run tuner; return its JSON document, or fail the task with tuner's own message."""
    command = [module.params["tuner_path"], *args]
    try:
        rc, out, err = module.run_command(command, environ_update={"NO_COLOR": "1"})
    except OSError as exc:
        module.fail_json(msg="cannot run %s: %s" % (command[0], exc), cmd=command)
    if rc != 0:
        message = (err or out).strip() or "tuner exited %d" % rc
        module.fail_json(msg=message, rc=rc, exit_reason=EXIT_REASONS.get(rc, "exit %d" % rc),
                         cmd=command, stdout=out, stderr=err)
    try:
        document = json.loads(out)
    except ValueError:
        module.fail_json(msg="tuner printed no JSON document: %s" % (err or out).strip()[:2000],
                         rc=rc, cmd=command, stdout=out, stderr=err)
    if not isinstance(document, dict) or document.get("format_version") != FORMAT_VERSION:
        module.fail_json(msg="tuner's JSON format_version is %r; this collection reads %d"
                         % (document.get("format_version") if isinstance(document, dict)
                            else None, FORMAT_VERSION), cmd=command)
    return document


def pending(plan):
    """The changes of a plan that apply would carry out."""
    return [c for c in plan.get("changes", []) if c.get("action") in CHANGING]


def diff_of(changes):
    """Ansible's diff: one before/after for each live key and each managed file."""
    found = []
    for change in changes:
        if change.get("layer") == "file":
            name = change["path"]
            found.append({
                "before_header": name if change.get("current") is not None else "/dev/null",
                "after_header": name if change.get("desired") is not None else "/dev/null",
                "before": change.get("current") or "",
                "after": change.get("desired") or "",
            })
        else:
            name = "live %s" % change.get("key")
            found.append({
                "before_header": name,
                "after_header": name,
                "before": "%s\n" % change.get("current") if change.get("current") is not None else "",
                "after": "%s\n" % change.get("desired") if change.get("desired") is not None else "",
            })
    return found
