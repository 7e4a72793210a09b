"""``camfetch config check FILE``: validate a configuration, every problem with its line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from camfetch.cli.output import err, print_json, say
from camfetch.service.config import ConfigError, load_config

config_app = typer.Typer(help="Configuration files.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.command("check")
def check(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="The configuration file (YAML).")],
    as_json: Annotated[bool, typer.Option("--json", help="Problems as JSON.")] = False,
) -> None:
    """Check a configuration file; exit code 2 and one line per problem when it is wrong."""
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        if as_json:
            print_json(
                {
                    "file": str(path),
                    "ok": False,
                    "problems": [
                        {"line": p.line, "column": p.column, "where": p.where, "message": p.message}
                        for p in exc.problems
                    ],
                }
            )
        else:
            for p in exc.problems:
                place = f"{path}:{p.line}:{p.column}" if p.line else str(path)
                where = f"{p.where}: " if p.where else ""
                err.print(f"{place}: {where}{p.message}", markup=False, style="red")
        raise typer.Exit(2) from None
    if as_json:
        print_json(
            {"file": str(path), "ok": True, "devices": len(cfg.devices), "jobs": len(cfg.jobs)}
        )
    else:
        say(f"{path}: ok ({len(cfg.devices)} devices, {len(cfg.jobs)} jobs)")
