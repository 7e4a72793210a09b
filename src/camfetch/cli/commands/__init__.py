"""More top-level commands, one module each; every module defines ``register(app)``.

:func:`load` imports them all, so a command is added by adding a file here.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer


def load(app: typer.Typer) -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{module.name}").register(app)
