"""The Dask worker plugin that gives each worker the objective once (imports Dask)."""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from .remote import install, uninstall


class InstallObjective(WorkerPlugin):
    """Installs the objective and the space in each Dask worker once: in the
    workers there when it is registered and in each one that joins later
    (see ``remote.install``); removes them when it is unregistered."""

    def __init__(self, name: str, payload: bytes) -> None:
        self.name = name
        self.payload = payload

    def setup(self, worker: Any) -> None:
        install(self.name, self.payload)

    def teardown(self, worker: Any) -> None:
        uninstall(self.name)
