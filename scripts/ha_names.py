"""Does every ``homeassistant.*`` name the integration imports exist in a Home Assistant release?

Reads a release's sources (a wheel, or an installed package's folder) without importing them:
releases from 2026.3 on need Python 3.14, which may not be the interpreter running this. Sources
that this interpreter cannot parse (3.14-only syntax) are read by text.

    python scripts/ha_names.py --newest DIR   # download the newest release's wheel into DIR (kept)
    python scripts/ha_names.py WHEEL          # check against a wheel already at hand
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
import re
import subprocess
import sys
import zipfile

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "eaio"

# Reads the source of "homeassistant/a/b.py"-style paths; None when the file is not there.
Reader = Callable[[str], str | None]


@dataclass(frozen=True)
class Use:
    """One imported name: ``from <module> import <name>`` (name None for ``import <module>``)."""

    module: str
    name: str | None
    where: str  # file:line in the integration


def imported_names(package: Path = INTEGRATION) -> list[Use]:
    uses = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        where = str(path.relative_to(package.parent.parent))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
                if node.module == "homeassistant" or node.module.startswith("homeassistant."):
                    uses += [Use(node.module, a.name, f"{where}:{node.lineno}") for a in node.names]
            elif isinstance(node, ast.Import):
                uses += [Use(a.name, None, f"{where}:{node.lineno}") for a in node.names
                         if a.name == "homeassistant" or a.name.startswith("homeassistant.")]
    return uses


def _module_source(read: Reader, module: str) -> str | None:
    base = module.replace(".", "/")
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        text = read(candidate)
        if text is not None:
            return text
    return None


def _targets(node: ast.expr) -> Iterator[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Tuple | ast.List):
        for element in node.elts:
            yield from _targets(element)


def _defined_by_ast(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(_targets(target))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            names.update(_targets(node.target))
        elif isinstance(node, ast.TypeAlias) and isinstance(node.name, ast.Name):
            names.add(node.name.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        # Definitions under `if TYPE_CHECKING:`, try/except and with blocks count too.
        for field in ("body", "orelse", "finalbody"):
            pending.extend(getattr(node, field, []) if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef
                                                                       | ast.ClassDef) else [])
        for handler in getattr(node, "handlers", []):
            pending.extend(handler.body)
    return names


def _defined_by_text(source: str) -> set[str]:
    # For sources in syntax this interpreter cannot parse: top-level definitions and imports.
    names = set(re.findall(r"^\s*(?:async\s+def|def|class)\s+([A-Za-z_]\w*)", source, re.MULTILINE))
    names |= set(re.findall(r"^([A-Za-z_]\w*)\s*(?::[^=\n]+)?=", source, re.MULTILINE))
    names |= set(re.findall(r"^type\s+([A-Za-z_]\w*)", source, re.MULTILINE))
    for block in re.findall(r"^\s*from\s+\S+\s+import\s+(\([^)]*\)|[^\n]+)", source, re.MULTILINE):
        for part in block.strip("()").replace("\n", " ").split(","):
            words = part.split("#")[0].split()
            if words:
                names.add(words[-1])
    return names


def defined_names(source: str) -> tuple[set[str], bool]:
    """The module's top-level names, and whether they were read by text (not parsed)."""
    try:
        return _defined_by_ast(ast.parse(source)), False
    except SyntaxError:
        return _defined_by_text(source), True


@dataclass(frozen=True)
class Finding:
    use: Use
    problem: str  # "missing module", "missing name", "deprecated"


def check(uses: list[Use], read: Reader) -> tuple[list[Finding], int]:
    """Problems found, and how many modules had to be read by text."""
    findings: list[Finding] = []
    cache: dict[str, tuple[set[str], bool, str] | None] = {}
    by_text = 0
    for use in uses:
        if use.module not in cache:
            source = _module_source(read, use.module)
            if source is None:
                cache[use.module] = None
            else:
                names, textual = defined_names(source)
                by_text += textual
                cache[use.module] = (names, textual, source)
        entry = cache[use.module]
        if entry is None:
            findings.append(Finding(use, "missing module"))
            continue
        if use.name is None:
            continue
        names, _, source = entry
        if use.name in names or _module_source(read, f"{use.module}.{use.name}") is not None:
            continue
        if f"_DEPRECATED_{use.name}" in names:
            findings.append(Finding(use, "deprecated"))
        elif "__getattr__" in names:
            findings.append(Finding(use, "only through the module's __getattr__ (a deprecated alias?)"))
        else:
            findings.append(Finding(use, "missing name"))
    return findings, by_text


def wheel_reader(wheel: Path) -> Reader:
    archive = zipfile.ZipFile(wheel)
    files = set(archive.namelist())

    def read(path: str) -> str | None:
        return archive.read(path).decode("utf-8") if path in files else None

    return read


def folder_reader(site_packages: Path) -> Reader:
    def read(path: str) -> str | None:
        file = site_packages / path
        return file.read_text(encoding="utf-8") if file.is_file() else None

    return read


def download_newest(folder: Path) -> Path:
    """The newest release's wheel, downloaded into ``folder`` unless it is already there."""
    folder.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--ignore-requires-python", "--only-binary=:all:",
         "--progress-bar", "off", "-d", str(folder), "homeassistant"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    found = re.findall(r"(homeassistant-[0-9][^\s/]*\.whl)", run.stdout)
    if run.returncode != 0 or not found:
        raise ConnectionError((run.stderr.strip().splitlines() or ["pip download failed"])[-1])
    return folder / found[-1]


def report(wheel: Path) -> int:
    findings, by_text = check(imported_names(), wheel_reader(wheel))
    uses = imported_names()
    print(f"{len(uses)} homeassistant imports of the integration checked against {wheel.name}"
          + (f" ({by_text} modules read by text: syntax newer than this Python)" if by_text else ""))
    failed = False
    for finding in findings:
        fatal = finding.problem.startswith("missing")
        failed |= fatal
        print(f"  {'ERROR' if fatal else 'warning'}: {finding.use.where}: {finding.use.module}"
              f"{'.' + finding.use.name if finding.use.name else ''}: {finding.problem}")
    print("every name exists" if not failed else "names missing in that release")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", nargs="?", type=Path, help="a homeassistant wheel")
    parser.add_argument("--newest", type=Path, metavar="DIR", help="download the newest release's wheel into DIR")
    args = parser.parse_args(argv)
    if args.newest is not None:
        try:
            wheel = download_newest(args.newest)
        except (ConnectionError, subprocess.TimeoutExpired) as err:
            print(f"SKIPPED: the package index could not be reached for the newest Home Assistant ({err})")
            return 0
    elif args.wheel is not None:
        wheel = args.wheel
    else:
        parser.error("give a wheel or --newest DIR")
    return report(wheel)


if __name__ == "__main__":
    sys.exit(main())
