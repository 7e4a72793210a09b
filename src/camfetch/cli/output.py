"""How the command line talks: one-line errors with distinct exit codes, JSON, progress.

Every command body runs through :func:`run`, which turns camfetch's typed
errors into ``camfetch: <kind>: <message>`` on stderr and the error's exit
code, never a traceback (set ``CAMFETCH_DEBUG=1`` to see one for an internal
error). Anything printed has known secrets scrubbed from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import traceback
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from camfetch.address import scrub
from camfetch.errors import CamfetchError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

#: Secrets of the devices this process opened; scrubbed from anything printed.
SECRETS: list[str] = []


def remember_secrets(secrets: list[str]) -> None:
    SECRETS.extend(s for s in secrets if s and s not in SECRETS)


def clean(text: str) -> str:
    return scrub(text, SECRETS)


def print_json(data: Any) -> None:
    """JSON on stdout (one document, UTF-8, stable key order as built)."""
    sys.stdout.write(clean(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")
    sys.stdout.flush()


def print_json_line(data: Any) -> None:
    """One JSON object on one line (JSON Lines), flushed at once."""
    sys.stdout.write(clean(json.dumps(data, ensure_ascii=False)) + "\n")
    sys.stdout.flush()


def interrupt_event() -> asyncio.Event:
    """An event set by Ctrl-C (SIGINT) or SIGTERM: the graceful way to end a recording."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def until_interrupted(work: Coroutine[Any, Any, None], seconds: float | None) -> None:
    """Run ``work`` until it ends, ``seconds`` pass (TimeoutError), or Ctrl-C (returns)."""
    stop = interrupt_event()
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait(
            {task, stopper}, timeout=seconds, return_when="FIRST_COMPLETED"
        )
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task in done:
        task.result()  # re-raise what the work raised
    elif not stop.is_set():
        raise TimeoutError


def say(message: str) -> None:
    """A line for a person on stdout."""
    out.print(clean(message), markup=False)


def note(message: str) -> None:
    """A remark on stderr (does not disturb JSON on stdout)."""
    err.print(clean(message), markup=False, style="dim")


def warn(message: str) -> None:
    err.print("camfetch: warning: " + clean(message), markup=False, style="yellow")


def fail(error: CamfetchError) -> NoReturn:
    err.print(f"camfetch: {error.kind}: {clean(str(error))}", markup=False, style="red")
    raise typer.Exit(error.exit_code)


def run(coro: Coroutine[Any, Any, int | None]) -> None:
    """Run a command body; map errors to exit codes. The body may return an exit code."""
    try:
        code = asyncio.run(coro)
    except CamfetchError as exc:
        fail(exc)
    except KeyboardInterrupt:
        err.print("camfetch: interrupted", style="yellow")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except Exception as exc:  # a bug: say so in one line, traceback only on request
        if os.environ.get("CAMFETCH_DEBUG"):
            err.print(clean(traceback.format_exc()), markup=False)
        err.print(
            f"camfetch: internal error: {type(exc).__name__}: {clean(str(exc))} "
            "(set CAMFETCH_DEBUG=1 for details)",
            markup=False,
            style="red",
        )
        raise typer.Exit(1) from None
    if code:
        raise typer.Exit(code)


@contextmanager
def progress_bar(description: str, total: float | None) -> Iterator[Progress]:
    """A rich progress bar on stderr; quiet when stderr is not a terminal."""
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        bar.add_task(description, total=total, detail="")
        yield bar
