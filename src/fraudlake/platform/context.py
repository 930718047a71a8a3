"""What every engine needs to know: settings, secrets, the JDK, and where its files go."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from fraudlake.config import Settings
from fraudlake.platform import secrets, state_folder
from fraudlake.platform.errors import PlatformError

_JDK_ROOTS = (Path("/usr/lib/jvm"),)


@dataclass
class Context:
    settings: Settings

    @cached_property
    def secrets(self) -> dict[str, str]:
        if self.settings.secrets_source == "env":
            return secrets.from_env(os.environ)
        state_folder.claim(self.settings.home)
        return secrets.load_or_create(self.settings.home)

    @cached_property
    def java_home(self) -> Path:
        return find_java_home(self.settings.java_home)

    def java_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["JAVA_HOME"] = str(self.java_home)
        env["PATH"] = f"{self.java_home / 'bin'}:{env.get('PATH', '')}"
        return env

    def cache(self, *parts: str) -> Path:
        return self.settings.cache_dir.joinpath(*parts)

    def data(self, service: str) -> Path:
        return self.settings.data_dir / service

    def log_file(self, process: str) -> Path:
        return self.settings.log_dir / f"{process}.log"

    def pid_file(self, process: str) -> Path:
        return self.settings.run_dir / f"{process}.pid"

    def ensure_dirs(self) -> None:
        state_folder.claim(self.settings.home)
        for folder in (self.settings.data_dir, self.settings.log_dir, self.settings.run_dir):
            folder.mkdir(parents=True, exist_ok=True)


def java_major(java_home: Path) -> int | None:
    """Major version from the JDK's `release` file, or None if it is not a JDK."""
    try:
        release = (java_home / "release").read_text()
    except OSError:
        return None
    match = re.search(r'JAVA_VERSION="(\d+)', release)
    return int(match.group(1)) if match else None


def find_java_home(configured: Path | None) -> Path:
    """A JDK 17-21: Kafka 4 needs 17+, and Flink's cluster scripts fail on JDK 25."""
    fix = "install a JDK 17 (apt-get install -y openjdk-17-jdk-headless) or set FRAUDLAKE_JAVA_HOME"
    if configured is not None:
        major = java_major(configured)
        if major is None or not 17 <= major <= 21:
            raise PlatformError(
                "java", f"FRAUDLAKE_JAVA_HOME={configured} is not a JDK 17-21 (found {major})", fix
            )
        return configured
    candidates = [Path(os.environ["JAVA_HOME"])] if os.environ.get("JAVA_HOME") else []
    for root in _JDK_ROOTS:
        if root.is_dir():
            candidates += sorted(root.iterdir())
    for candidate in candidates:
        major = java_major(candidate)
        if major is not None and 17 <= major <= 21 and (candidate / "bin" / "java").exists():
            return candidate
    raise PlatformError("java", "no JDK 17-21 found", fix)
