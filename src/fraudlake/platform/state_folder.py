"""The state folder (FRAUDLAKE_HOME) carries a marker file, so that `reset`, which deletes the whole
folder, only ever deletes one fraudlake made: `FRAUDLAKE_HOME=~` must not wipe a home folder."""

from __future__ import annotations

import re
import secrets
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
    marker.write_text(
        f"fraudlake's state folder: `fraudlake reset` deletes all of it\ninstall {secrets.token_hex(8)}\n"
    )


def install_id(home: Path) -> str:
    """This state folder's random id, written with its marker: what fraudlake keeps outside the
    folder (PostgreSQL's data under root) carries it, so data an earlier state folder left at the
    same path is told apart."""
    claim(home)
    marker = home / MARKER
    found = re.search(r"^install (\w+)$", marker.read_text(), re.M)
    if found is None:  # a marker from before the id
        identity = secrets.token_hex(8)
        marker.write_text(marker.read_text() + f"install {identity}\n")
        return identity
    return found.group(1)
