"""The state folder (FRAUDLAKE_HOME) carries a marker file, so that `reset`, which deletes the whole
folder, only ever deletes one fraudlake made: `FRAUDLAKE_HOME=~` must not wipe a home folder."""

from __future__ import annotations

from pathlib import Path

from fraudlake.platform.errors import PlatformError

MARKER = ".fraudlake-state"
LEGACY = "secrets.json"
"""What a state folder from before the marker holds: such a folder is adopted."""


def claim(home: Path) -> None:
    """Make `home` fraudlake's state folder: create it with its marker, adopt an earlier one, or
    refuse a folder that holds other files."""
    marker = home / MARKER
    if marker.is_file():
        return
    if home.is_dir() and any(home.iterdir()) and not (home / LEGACY).is_file():
        raise PlatformError(
            "home",
            f"FRAUDLAKE_HOME={home} holds other files and no {MARKER}: it is not a fraudlake state folder",
            "point FRAUDLAKE_HOME at a new or empty folder (reset deletes the whole state folder)",
        )
    home.mkdir(parents=True, exist_ok=True)
    marker.write_text("fraudlake's state folder: `fraudlake reset` deletes all of it\n")
