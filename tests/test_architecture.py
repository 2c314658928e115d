"""The layout is the architecture: packages import only in the directions docs/architecture.md
draws, nothing imports in a circle (counting imports inside functions and for type checking
only), and only the CLI's lazy registry (and the entry point's completion fast path) imports
inside a function."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "tuner"
REGISTRY = "tuner.cli.registry"  # the commands, imported when run
# The only modules allowed to import inside a function: the registry, the profile parser's loader,
# and the entry point, which answers a shell's completion request before the CLI loads.
LAZY = {REGISTRY, "tuner.cli.profiles", "tuner.__main__"}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported tuner module
    line: int
    kind: str  # "module", "function" or "typing"


def modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def _target(base: str, name: str, known: dict[str, Path]) -> str:
    """``from base import name``: the module ``base.name`` when there is one, else ``base``."""
    return f"{base}.{name}" if f"{base}.{name}" in known else base


def _absolute(module: str, node: ast.ImportFrom, known: dict[str, Path]) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    if known[module].name != "__init__.py":
        package = package[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join([*package, *([node.module] if node.module else [])])


def imports_of(module: str, known: dict[str, Path]) -> list[Import]:
    """Every import of a tuner module in ``module``: at module level, inside a function (at any
    depth), or under ``if TYPE_CHECKING`` - each counts for the direction and for cycles."""
    tree = ast.parse(known[module].read_text())
    found: list[Import] = []

    def visit(node: ast.AST, kind: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for part in child.body:
                    visit_one(part, "typing" if kind == "module" else kind)
                for part in child.orelse:
                    visit_one(part, kind)
                continue
            visit_one(child, kind)

    def visit_one(child: ast.AST, kind: str) -> None:
        if isinstance(child, ast.ImportFrom):
            base = _absolute(module, child, known)
            if base == "tuner" or base.startswith("tuner."):
                for alias in child.names:
                    found.append(
                        Import(module, _target(base, alias.name, known), child.lineno, kind)
                    )
        elif isinstance(child, ast.Import):
            for alias in child.names:
                if alias.name == "tuner" or alias.name.startswith("tuner."):
                    found.append(Import(module, alias.name, child.lineno, kind))
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            visit(child, "function")
        else:
            visit(child, kind)

    visit(tree, "module")
    return found


def registered_commands() -> dict[str, str]:
    """The registry's COMMANDS (verb -> module), read from its source: what it imports lazily."""
    tree = ast.parse(modules()[REGISTRY].read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "COMMANDS":
            value = ast.literal_eval(node.value)
            return {verb: f"tuner.cli.{name}" for verb, name in value.items()}
    raise AssertionError("tuner/cli/registry.py has no COMMANDS")


def all_imports() -> list[Import]:
    known = modules()
    found = [i for name in known for i in imports_of(name, known)]
    found += [Import(REGISTRY, m, 0, "function") for m in registered_commands().values()]
    return found


def package_of(module: str) -> str:
    """``tuner.cli.plan`` -> ``cli``; the top-level ``tuner`` (its version) and ``__main__``."""
    parts = module.split(".")
    return (
        parts[1]
        if len(parts) > 2
        else {"tuner": "tuner", "tuner.__main__": "__main__"}.get(module, parts[-1])
    )


def documented_arrows() -> dict[str, set[str]]:
    """docs/architecture.md's table of what each package may import: ``| cli | app, state |``."""
    text = (REPO / "docs/architecture.md").read_text()
    section = text.split("## Allowed imports", 1)[1].split("\n## ", 1)[0]
    arrows: dict[str, set[str]] = {}
    for row in re.findall(r"^\| `(\w+)/` \| ([^|]*) \|", section, re.MULTILINE):
        package, targets = row
        arrows[package] = {t.strip(" `/") for t in targets.split(",") if t.strip(" `/-")}
    return arrows


def package_edges() -> dict[tuple[str, str], list[Import]]:
    edges: dict[tuple[str, str], list[Import]] = {}
    for found in all_imports():
        source, target = package_of(found.source), package_of(found.target)
        if target not in (source, "tuner") and source != "__main__":
            edges.setdefault((source, target), []).append(found)
    return edges


def test_top_level_holds_only_packages() -> None:
    loose = sorted(
        p.name
        for p in PACKAGE.iterdir()
        if p.suffix == ".py" and p.name not in ("__init__.py", "__main__.py")
    )
    assert not loose, f"modules outside a package: {loose}"
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert packages == sorted(documented_arrows()), "docs/architecture.md lists other packages"


def test_every_package_says_what_lives_there_and_what_it_may_import() -> None:
    for package in documented_arrows():
        doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
        assert doc and "May import" in doc, f"tuner/{package}/__init__.py: say what it may import"
        allowed = documented_arrows()[package]
        said = doc.split("May import", 1)[1]
        named = set(re.findall(r"``(\w+)``", said))
        assert named == allowed, f"tuner/{package}: docstring says {named}, docs say {allowed}"


def test_imports_follow_the_documented_arrows() -> None:
    allowed = documented_arrows()
    wrong = [
        f"{i.source}:{i.line} imports {i.target} ({i.kind}): {a} may not import {b}"
        for (a, b), found in package_edges().items()
        if b not in allowed.get(a, set())
        for i in found
    ]
    assert not wrong, "\n".join(wrong)


def test_every_documented_arrow_is_used() -> None:
    """The drawing matches the code both ways: an arrow nothing uses is taken out of the docs."""
    used = set(package_edges())
    unused = [(a, b) for a, targets in documented_arrows().items() for b in targets
              if (a, b) not in used]  # fmt: skip
    assert not unused, f"docs/architecture.md draws arrows the code does not use: {unused}"


def test_the_packages_form_layers() -> None:
    graph = {a: set(b) for a, b in documented_arrows().items()}
    assert not _cycle(graph), f"package cycle: {_cycle(graph)}"


def test_no_import_cycles_of_any_kind() -> None:
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for found in all_imports():
        if found.target != found.source and found.target in graph:
            graph[found.source].add(found.target)
    cycle = _cycle(graph)
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_only_the_lazy_registry_imports_inside_a_function() -> None:
    known = modules()
    inside = [
        f"{i.source}:{i.line} imports {i.target} inside a function"
        for name in known
        for i in imports_of(name, known)
        if i.kind == "function" and i.source not in LAZY
    ]
    assert not inside, "\n".join(inside)


def test_no_verb_imports_another() -> None:
    """Each verb is parse -> op -> render: verbs share options, views and the report, never each
    other."""
    verbs = set(registered_commands().values())
    crossing = [
        f"{i.source}:{i.line} imports {i.target}"
        for i in all_imports()
        if i.source in verbs and i.target in verbs and i.target != i.source
    ]
    assert not crossing, "\n".join(crossing)


def test_the_checker_sees_each_kind_of_import(tmp_path: Path) -> None:
    """The analysis itself: a function-level and a type-only import are edges too."""
    (tmp_path / "tuner" / "a").mkdir(parents=True)
    for name in ("tuner/__init__.py", "tuner/a/__init__.py", "tuner/a/b.py", "tuner/a/c.py"):
        (tmp_path / name).touch()
    (tmp_path / "tuner/a/b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tuner.a import c\n"
        "def f():\n    from tuner.a.c import X\n    import tuner.a.c\n"
    )
    known = {
        ".".join(p.relative_to(tmp_path).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (tmp_path / "tuner").rglob("*.py")
    }
    found = imports_of("tuner.a.b", known)
    assert [(i.target, i.kind) for i in found] == [
        ("tuner.a.c", "typing"), ("tuner.a.c", "function"), ("tuner.a.c", "function"),
    ]  # fmt: skip


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str]:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*trail, node, nxt]
            if nxt not in state and (found := visit(nxt, [*trail, node])):
                return found
        state[node] = 2
        return []

    for name in sorted(graph):
        if name not in state and (found := visit(name, [])):
            return found
    return []


# --- one implementation per domain fact ------------------------------------------------------

ONE_HOME = {
    # what: (regular expression over tuner's source, the files allowed to hold it)
    "the word unlimited, parsed or printed": (r"[\"']unlimited[\"']", {"tuner/base/limits.py"}),
    "systemd's infinity": (
        r"[\"']infinity[\"']",
        {"tuner/base/limits.py", "tuner/base/services.py"},
    ),
    "the integers of a sysctl value": (
        r"int\(\w+\) for \w+ in .*\.split\(\)",
        {"tuner/base/keys.py"},
    ),
    "descriptors per proxied connection": (
        r"2 if .*role == \"proxy\"",
        {"tuner/knowledge/capacity.py"},
    ),
    "what a profile argument names": (
        r"looks_like_path\(|def _saved_plan",
        {"tuner/profile/ref.py", "tuner/profile/resolve.py"},
    ),
    "the extends lookup": (r"\.find\(ProfileRef", {"tuner/profile/resolve.py"}),
    "a saved plan's marker": (r'"tuner saved plan"', {"tuner/profile/ref.py"}),
    "the kernel's default port range": (r"32768, 60999", {"tuner/knowledge/connections.py"}),
    "a profile's nofile numbers": (
        r'directive == "LimitNOFILE"',
        {"tuner/knowledge/nofile.py", "tuner/knowledge/capacity.py"},
    ),
}
ONE_DEFINITION = ("Intent", "Profile", "PortRange", "PortSpace", "Rlimit", "ProfileRef", "Plan")


def test_each_domain_fact_has_one_home() -> None:
    """The facts once written several times (and disagreeing) have one implementation each."""
    sources = {str(p.relative_to(REPO)): p.read_text() for p in sorted(PACKAGE.rglob("*.py"))}
    wrong = []
    for what, (pattern, homes) in ONE_HOME.items():
        found = {name for name, text in sources.items() if re.search(pattern, text)}
        assert found, f"{what}: the check finds nothing ({pattern}); update it with the code"
        if found - homes:
            wrong.append(f"{what}: also in {sorted(found - homes)} (its home: {sorted(homes)})")
    for name in ONE_DEFINITION:
        defined = [f for f, text in sources.items() if re.search(rf"^class {name}\b", text, re.M)]
        if len(defined) != 1:
            wrong.append(f"class {name} is defined in {defined}")
    assert not wrong, "\n".join(wrong)


def test_the_docs_name_only_modules_that_exist() -> None:
    """A module named in the docs (`tuner/cli/group.py`, or `cli/group.py` in architecture.md)
    is where the docs say: moving one means updating them."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    packages = "|".join(documented_arrows())
    pattern = re.compile(rf"`(?:tuner/)?((?:{packages})/\w+\.py)`")
    named = {(page.name, found) for page in pages for found in pattern.findall(page.read_text())}
    missing = sorted(f"{page}: {path}" for page, path in named if not (PACKAGE / path).is_file())
    assert len(named) >= 20
    assert not missing, "\n".join(missing)
