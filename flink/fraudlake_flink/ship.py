"""What the TaskManagers get (`flink run -pyfs`): the modules the job's Python UDF imports, no more.

The client side of `flink run` (main.py, the SQL generation, the rules) runs on the CLI's host with
every source root on its path; the TaskManagers' Python workers only run the parse UDF, so they get
its import closure within fraudlake's packages, copied into a folder named by its content's hash.
"""

from __future__ import annotations

import ast
import hashlib
import shutil
from pathlib import Path

from fraudlake.config import SOURCE_ROOTS

UDF_MODULE = "fraudlake_flink.parse"
PACKAGES = ("fraudlake", "fraudlake_flink", "fraudlake_lake")


def _file(module: str) -> tuple[Path, Path] | None:
    """(source root, file) of one of our modules, or None if it is not ours."""
    if module.split(".")[0] not in PACKAGES:
        return None
    parts = module.split(".")
    for root in SOURCE_ROOTS:
        for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return root, candidate
    return None


def _imports(path: Path) -> set[str]:
    """Absolute module names `path` imports (a `from a import b` names a.b too: b may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def closure(module: str = UDF_MODULE) -> dict[str, Path]:
    """Relative path in the shipped folder -> source file, for `module` and what it imports of
    ours, with the subpackages' `__init__.py` on the way (importing a.b.c runs a/b/__init__.py)."""
    found: dict[str, Path] = {}
    pending = [module]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            located = _file(".".join(parts[:depth]))
            if located is None:
                continue
            root, path = located
            relative = str(path.relative_to(root))
            if relative not in found:
                found[relative] = path
                pending.extend(_imports(path))
    # Without their __init__.py the top-level packages are namespace packages in the shipped folder:
    # `flink run` puts that folder first on the client's path too, where the full packages must win.
    return {k: v for k, v in sorted(found.items()) if k not in {f"{p}/__init__.py" for p in PACKAGES}}


def ship(parent: Path, module: str = UDF_MODULE) -> Path:
    """The folder of `module`'s closure under `parent` (built once per content)."""
    files = closure(module)
    digest = hashlib.sha256()
    for relative, path in files.items():
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    folder = parent / digest.hexdigest()[:16]
    if folder.is_dir():
        return folder
    building = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(building, ignore_errors=True)
    for relative, path in files.items():
        (building / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, building / relative)
    try:
        building.rename(folder)
    except OSError:  # built beside us by another submission: same content
        shutil.rmtree(building, ignore_errors=True)
    return folder
