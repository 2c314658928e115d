# -*- coding: utf-8 -*-
# Copyright: (c) 2026, tuner developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running tuner and reading its versioned JSON, for the modules of this collection."""

from __future__ import annotations

import json

FORMAT_VERSION = 1
# The oldest tuner whose JSON this collection reads: the collection's version follows tuner's.
MIN_TUNER_VERSION = "0.2.0"
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


def run_tuner(module, args, ok=(0,)):
    """Run tuner; return its JSON document, or fail the task with tuner's own message (the
    text it prints for a person, never the JSON document itself)."""
    command = [module.params["tuner_path"], *args]
    try:
        rc, out, err = module.run_command(command, environ_update={"NO_COLOR": "1"})
    except OSError as exc:
        module.fail_json(msg="cannot run %s: %s" % (command[0], exc), cmd=command)
    try:
        document = json.loads(out) if out.strip() else None
    except ValueError:
        document = None
    if rc not in ok:
        module.fail_json(msg=error_text(document, err, out, rc), rc=rc,
                         exit_reason=EXIT_REASONS.get(rc, "exit %d" % rc), cmd=command,
                         stderr=err, errors=(document or {}).get("errors", []))
    if not isinstance(document, dict):
        module.fail_json(msg="tuner printed no JSON document: %s" % (err or out).strip()[:2000],
                         rc=rc, cmd=command, stderr=err)
    if document.get("format_version") != FORMAT_VERSION:
        module.fail_json(msg="tuner's JSON format_version is %r; this collection reads %d"
                         % (document.get("format_version"), FORMAT_VERSION), cmd=command)
    version = document.get("tuner_version")
    if not at_least(version, MIN_TUNER_VERSION):
        module.fail_json(msg="tuner %s on this host is older than this collection needs (%s or "
                         "newer): upgrade tuner-sysctl" % (version, MIN_TUNER_VERSION),
                         cmd=command)
    return document


def at_least(version, minimum):
    """Whether the version string ``version`` (1.2.3, maybe with a suffix) is >= ``minimum``."""
    def numbers(text):
        found = []
        for part in str(text).split("."):
            digits = "".join(c for c in part if c.isdigit()) if part[:1].isdigit() else ""
            if not digits:
                break
            found.append(int(digits))
        return tuple(found)
    have = numbers(version)
    return bool(have) and have >= numbers(minimum)


def error_text(document, err, out, rc):
    """What tuner said was wrong, as it says it to a person: its stderr without the
    ``tuner: error:`` prefix, or the errors of a JSON document (a refused plan)."""
    if isinstance(document, dict) and document.get("errors"):
        return "\n".join(diagnostic_text(d) for d in document["errors"])
    lines = [line.replace("tuner: error: ", "", 1) for line in err.strip().splitlines()]
    if lines:
        return "\n".join(lines)
    if isinstance(document, dict):
        return "tuner exited %d (%s)" % (rc, EXIT_REASONS.get(rc, "exit %d" % rc))
    return out.strip()[:2000] or "tuner exited %d" % rc


def diagnostic_text(found):
    """One diagnostic of tuner's JSON as tuner prints it: FILE:LINE:COL (ORIGIN): KEY: message."""
    where = ""
    if found.get("file"):
        where = "%s:%s:%s" % (found["file"], found.get("line"), found.get("col"))
        if found.get("origin"):
            where += " (%s)" % found["origin"]
    parts = [p for p in (where, found.get("key")) if p]
    label = "" if found.get("severity") == "error" else "%s: " % found.get("severity")
    text = "%s%s" % (label, found.get("message"))
    if found.get("detail"):
        text += " (%s)" % found["detail"]
    if found.get("rule"):
        text += " [%s]" % found["rule"]
    return ": ".join(parts + [text])


def warnings_of(plan):
    """A plan's warnings, as tuner words them: the profile's findings and what the host would
    undo at boot or at login (a key another file overrides, say)."""
    return [diagnostic_text(d) for d in plan.get("warnings", []) if d.get("severity") == "warning"]


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
