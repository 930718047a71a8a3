"""Install steps shared by the engines: Debian packages, Maven jars, Go binaries, Python venvs.

Everything downloaded or built goes to a cache folder keyed by version (outside the checkout), is
built in a scratch folder first and only then moved into place with a `.complete` marker, so an
interrupted install is never mistaken for a finished one and a second run skips the work; a lock
per artifact makes concurrent installs take turns instead of building over each other.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from fraudlake.platform import locks
from fraudlake.platform.errors import PlatformError
from fraudlake.platform.process import identity

_MARKER = ".complete"


def is_complete(dest: Path) -> bool:
    return (dest / _MARKER).exists()


def _locked(dest: Path) -> AbstractContextManager[bool]:
    """Hold `<dest>.lock`: two installs of one artifact (`up` and an Airflow task, two tasks) take
    turns; the second then finds the first's complete copy."""
    return locks.held(dest.with_name(f"{dest.name}.lock"))


def ensure_dir(dest: Path, build: Callable[[Path], None], *, in_place: bool = False) -> bool:
    """Build `dest` with `build(folder)` unless a complete copy exists; True if it was built.

    Builds of one `dest` are serialised by a lock. `in_place` builds straight into `dest` (for
    virtual environments, which cannot be moved) and relies on the marker, written last, alone.
    """
    if is_complete(dest):
        return False
    with _locked(dest):
        if is_complete(dest):
            return False
        if in_place:
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            build(dest)
            (dest / _MARKER).touch()
            return True
        scratch = dest.with_name(f"{dest.name}.partial-{os.getpid()}")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        try:
            build(scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        (scratch / _MARKER).touch()
        if dest.exists():
            shutil.rmtree(dest)
        scratch.rename(dest)
        return True


def run(
    service: str,
    argv: Sequence[str],
    *,
    fix: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 1800,
    user: str | None = None,
) -> str:
    """Run an install command; on failure raise a PlatformError with its last output lines."""
    try:
        done: subprocess.CompletedProcess[str] = subprocess.run(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **identity(user),
        )
    except FileNotFoundError:
        raise PlatformError(service, f"command not found: {argv[0]}", fix) from None
    except subprocess.TimeoutExpired:
        raise PlatformError(service, f"{argv[0]} timed out after {timeout:.0f}s", fix) from None
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()[-15:]
        detail = "\n    ".join(output)
        raise PlatformError(
            service,
            f"`{' '.join(argv[:4])} ...` failed (exit {done.returncode}):\n    {detail}",
            fix,
        )
    return done.stdout


def require_command(service: str, command: str, fix: str) -> str:
    path = shutil.which(command)
    if path is None:
        raise PlatformError(service, f"`{command}` is not installed", fix)
    return path


def apt_install(service: str, packages: Sequence[str]) -> None:
    """Install Debian packages (needs root); refreshes the package index once if the first try fails."""
    fix = f"install them yourself: sudo apt-get install -y {' '.join(packages)}"
    if os.geteuid() != 0:
        raise PlatformError(service, f"Debian packages {', '.join(packages)} are missing", fix)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    try:
        run(service, install, fix=fix, env=env)
    except PlatformError:
        run(service, ["apt-get", "update"], fix=fix, env=env)
        run(service, install, fix=fix, env=env)


def maven_copy_jars(
    service: str, pom: Path, dest: Path, properties: Mapping[str, str], *, transitive: bool
) -> None:
    """Fetch the dependencies of `pom` from Maven Central into `dest`."""
    mvn = require_command(service, "mvn", "install Maven: apt-get install -y maven")
    argv = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={dest}",
        "-DincludeScope=runtime",
        f"-DexcludeTransitive={'false' if transitive else 'true'}",
        *(f"-D{key}={value}" for key, value in properties.items()),
    ]
    run(service, argv, fix="check that Maven Central is reachable (mvn -v; ~/.m2/settings.xml)")


def python_venv(service: str, dest: Path, requirements: Sequence[str]) -> None:
    """Create a virtual environment at `dest` holding exactly the pinned `requirements`."""
    python = shutil.which("python3.11") or shutil.which("python3") or "python3"
    fix = "check that PyPI is reachable (pip config list) and Python 3.11 has venv"
    run(service, [python, "-m", "venv", str(dest)], fix=fix)
    pip = [
        str(dest / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    run(service, [*pip, *requirements], fix=fix)
