"""The one error type of the platform runner: it names the service, the cause and the fix."""

from __future__ import annotations


class PlatformError(Exception):
    """Something stops a service from being installed or started."""

    def __init__(self, service: str, cause: str, fix: str) -> None:
        super().__init__(f"[{service}] {cause}")
        self.service = service
        self.cause = cause
        self.fix = fix

    def render(self) -> str:
        return f"error: [{self.service}] {self.cause}\n  fix: {self.fix}"
