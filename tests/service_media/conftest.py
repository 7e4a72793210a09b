"""Fixtures of the timelapse and grid tests: a catalog and a picture store in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PIL import JpegImagePlugin

from camfetch.cli import output
from camfetch.service.catalog import Catalog
from camfetch.service.storage import LocalStorage


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[Catalog]:
    found = Catalog(f"sqlite:///{tmp_path / 'data' / 'catalog.db'}")
    await found.open()
    yield found
    await found.close()


#: A JPEG draft call: (size before, size asked, size after).
DraftCall = tuple[tuple[int, int], tuple[int, int] | None, tuple[int, int]]


@pytest.fixture
def draft_calls(monkeypatch: pytest.MonkeyPatch) -> list[DraftCall]:
    """Every JPEG draft-mode request Pillow is asked for during the test."""
    calls: list[DraftCall] = []
    real = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):  # type: ignore[no-untyped-def]
        before = self.size
        answer = real(self, mode, size)
        calls.append((before, size, self.size))
        return answer

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    return calls


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[LocalStorage]:
    store = LocalStorage(tmp_path / "data")
    yield store
    store.close()


@pytest.fixture(autouse=True)
def own_secrets() -> Iterator[None]:
    """Start from an empty list of secrets to scrub, and put the old one back afterwards.

    In-process CLI runs of other tests leave their passwords in the process-wide
    list; a one-letter password ("x") would turn every x in a path into ***.
    """
    saved = list(output.SECRETS)
    output.SECRETS.clear()
    yield
    output.SECRETS[:] = saved
