"""The tree as the README describes it: its layout table, one-way imports, links that lead somewhere."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"fraudlake": ROOT / "src", "fraudlake_flink": ROOT / "flink", "fraudlake_lake": ROOT / "lake"}


def _tracked(pattern: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", pattern], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [ROOT / name for name in listed.stdout.split()]


def _layout_rows() -> list[tuple[str, str]]:
    section = ROOT.joinpath("README.md").read_text().split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| `")]
    return [(folder.strip(), holds.strip()) for folder, holds in rows]


def test_readme_layout_table_matches_the_tree() -> None:
    rows = _layout_rows()
    named = {name.strip("`/").split("/")[0] for folder, _ in rows for name in folder.split(", ")}
    folders = {
        path.relative_to(ROOT).parts[0] for path in _tracked("*") if len(path.relative_to(ROOT).parts) > 1
    }
    assert named - {"docker-compose.yml"} == {f for f in folders if not f.startswith(".")}
    shared = next(holds for folder, holds in rows if folder == "`src/fraudlake/`")
    subpackages = {p.parent.name for p in (ROOT / "src" / "fraudlake").glob("*/__init__.py")}
    assert subpackages == set(re.findall(r"`(\w+)/`", shared)), "every subpackage of the shared package"
    for room in ("flink", "lake"):
        readme = ROOT.joinpath(room, "README.md").read_text()
        modules = {p.name for p in ROOT.joinpath(room, f"fraudlake_{room}").glob("*.py")}
        documented = set(re.findall(r"`(\w+\.py)`", readme))
        assert modules - {"__init__.py"} <= documented, f"{room}/README.md misses {modules - documented}"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_imports_go_one_way() -> None:
    """The job and the lakehouse use the shared package, not each other; the shared package uses
    neither, except its CLI, which puts them in front of the user."""
    for package, root in PACKAGES.items():
        for path in root.joinpath(package).rglob("*.py"):
            ours = _imports(path) & set(PACKAGES)
            if package == "fraudlake" and "cli" in path.relative_to(root).parts:
                continue
            allowed = {"fraudlake", package}
            assert ours <= allowed, f"{path.relative_to(ROOT)} imports {sorted(ours - allowed)}"


def test_links_and_decision_references_lead_somewhere() -> None:
    decisions = {path.name[:4] for path in (ROOT / "docs" / "decisions").glob("*.md")}
    broken = []
    for path in _tracked("*.md") + _tracked("*.py"):
        text = path.read_text()
        if path.suffix == ".md":
            for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
                if not target.startswith(("http://", "https://")) and not (path.parent / target).exists():
                    broken.append(f"{path.relative_to(ROOT)}: link {target}")
        for number in re.findall(r"\b[Dd]ecision (\d{4})\b", text):
            if number not in decisions:
                broken.append(f"{path.relative_to(ROOT)}: decision {number}")
        for target in re.findall(r"`((?:docs|dags|dbt|flink|lake|src|superset|benchmarks)/[\w./-]+)`", text):
            if not (ROOT / target).exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert not broken
