"""Fixtures of the timelapse and grid tests: a catalog and a picture store in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from camfetch.cli import output
from camfetch.service.catalog import Catalog
from camfetch.service.storage import LocalStorage


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[Catalog]:
    found = Catalog(f"sqlite:///{tmp_path / 'data' / 'catalog.db'}")
    await found.open()
    yield found
    await found.close()


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
