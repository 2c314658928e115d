"""tuner show: a profile after extends, each value with the file and line it came from."""

from __future__ import annotations

from tuner.app.show import Shown
from tuner.app.show import show as show_profile
from tuner.cli import report
from tuner.cli.options import HostOptions, JsonOpt, ProfileArg, QuietOpt, RootOpt, profile_ref, verb
from tuner.profile.library import display_path

app = verb()


@app.command("show")
def show(
    profile: ProfileArg, *, root: RootOpt = None, json: JsonOpt = False, quiet: QuietOpt = False
) -> int:
    """Show a profile resolved after extends, with where each value comes from."""
    where = HostOptions(root, None, kernel=False)  # it describes the profile, not this host
    result = show_profile(profile_ref(profile), where.host(), where.library())
    if json:
        report.emit_json("show", result.to_json())
    else:
        render(result)
    return 0


def render(result: Shown) -> None:
    profile = result.profile
    chain = " <- ".join(reversed(profile.chain))
    report.out(f"{profile.name}: {profile.description}")
    report.out(f"resolved: {chain}   ({display_path(profile.path)})")
    if profile.sysctl:
        report.out("\nsysctl:")
        rows = [["KEY", "VALUE", "FROM"]]
        rows += [[e.key.name, e.value, str(e.origin)] for e in profile.sysctl]
        for line in report.table(rows):
            report.out(line)
    if profile.limits:
        report.out("\nlimits:")
        rows = [["DOMAIN", "TYPE", "ITEM", "VALUE", "FROM"]]
        rows += [[e.domain, e.kind, e.item, e.value, str(e.origin)] for e in profile.limits]
        for line in report.table(rows):
            report.out(line)
    if profile.services:
        report.out("\nservices:")
        rows = [["UNIT", "SETTING", "FROM"]]
        rows += [[s.unit, f"{s.directive}={s.value}", str(s.origin)] for s in profile.services]
        for line in report.table(rows):
            report.out(line)
    acknowledged = profile.acknowledgements()
    if acknowledged:
        report.out("\nacknowledged rules:")
        rows = [["RULE", "FOR", "REASON", "FROM"]]
        rows += [
            [a.rule, "the profile" if a.at is None else f"the setting at {a.at}", a.reason,
             str(a.origin)]
            for a in acknowledged
        ]  # fmt: skip
        for line in report.table(rows):
            report.out(line)
