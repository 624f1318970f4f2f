"""Test setup: the suite never touches the network.

``HF_HUB_OFFLINE`` is read by huggingface_hub at import time, so it is set here, before anything
imports it. Any socket connection to a non-loopback address fails the test loudly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else ""
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"test tried to reach the network ({address}); tests must stay offline")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


HubCacheWriter = Callable[[str, dict[str, Path]], Path]


@pytest.fixture
def hub_cache(tmp_path: Path) -> tuple[Path, HubCacheWriter]:
    """A Hugging Face Hub cache laid out as huggingface_hub lays it out, in a temporary folder.

    Returns the cache folder and ``add(repo_id, {filename: local_file})``, which stores files as
    ``models--org--name/blobs/<sha256>`` with ``snapshots/<commit>/<filename>`` symlinks and a
    ``refs/main`` pointer, exactly what ``hf_hub_download`` resolves in offline mode.
    """
    cache = tmp_path / "hub-cache"

    def add(repo_id: str, files: dict[str, Path]) -> Path:
        repo_dir = cache / f"models--{repo_id.replace('/', '--')}"
        commit = hashlib.sha1(repo_id.encode()).hexdigest()
        snapshot = repo_dir / "snapshots" / commit
        (repo_dir / "blobs").mkdir(parents=True, exist_ok=True)
        snapshot.mkdir(parents=True, exist_ok=True)
        (repo_dir / "refs").mkdir(exist_ok=True)
        (repo_dir / "refs" / "main").write_text(commit)
        for filename, source in files.items():
            digest = hashlib.sha256(source.read_bytes()).hexdigest()
            blob = repo_dir / "blobs" / digest
            shutil.copyfile(source, blob)
            link = snapshot / filename
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
        return snapshot

    return cache, add
