"""What every GCP collector needs: the API, the clients, the scan settings, and the project."""

from __future__ import annotations

from dataclasses import dataclass

from auditor.scanners.base import ScanSettings
from auditor.scanners.gcp.api import GcpApi
from auditor.scanners.gcp.clients import GcpClients


@dataclass(frozen=True, slots=True)
class ScanContext:
    api: GcpApi
    clients: GcpClients
    settings: ScanSettings


@dataclass(frozen=True, slots=True)
class Project:
    project_id: str
    number: str | None  # None when the project itself could not be read
    ancestors: tuple[str, ...]  # projects/NUMBER, folders/..., organizations/..., nearest first
