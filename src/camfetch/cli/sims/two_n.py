"""``camfetch sim 2n``: a 2N IP intercom (HTTP API with camera, log and service security)."""

from __future__ import annotations

from typing import Annotated

import typer

from camfetch.cli.output import run
from camfetch.cli.sim import (
    FaultOnOpt,
    FaultOpt,
    FaultRateOpt,
    HostOpt,
    LatencyOpt,
    PasswordOpt,
    PortOpt,
    SkewOpt,
    TzOpt,
    UserOpt,
    apply_faults,
    check_choices,
    serve_until_stopped,
    sim_app,
)
from camfetch.sim.base import DEFAULT_PASSWORD, DEFAULT_USER
from camfetch.sim.faults import Fault

_AUTH_MODES = ("none", "basic", "digest")
_SERVICES = ("system", "camera", "logging")


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or not int(width) or not int(height):
        raise typer.BadParameter(f"{text!r}: expected WIDTHxHEIGHT, e.g. 1280x960")
    return int(width), int(height)


@sim_app.command("2n")
def two_n(
    port: PortOpt = 0,
    https_port: Annotated[
        int, typer.Option("--https-port", min=0, max=65535, help="HTTPS port (0: any free).")
    ] = 0,
    user: UserOpt = DEFAULT_USER,
    password: PasswordOpt = DEFAULT_PASSWORD,
    privileges: Annotated[
        str,
        typer.Option(
            "--privileges",
            help="The user's privileges: all, none, or a comma list of "
            "system, camera, io, call, keypad, uid (without camera: error 10 on /api/camera).",
        ),
    ] = "all",
    name: Annotated[
        str | None, typer.Option("--name", help="Device name (deviceName; default: the model).")
    ] = None,
    variant: Annotated[str, typer.Option("--variant", help="Model (variant).")] = "2N IP Verso",
    firmware: Annotated[
        str, typer.Option("--firmware", help="swVersion; before 2.33 system/info has fewer fields.")
    ] = "2.35.0.45.0",
    tz: TzOpt = "Europe/Prague",
    skew: SkewOpt = 0.0,
    host: HostOpt = "127.0.0.1",
    auth: Annotated[
        str, typer.Option("--auth", help="Authentication of every service: none, basic, digest.")
    ] = "digest",
    https_only: Annotated[
        bool, typer.Option("--https-only", help="Every service refuses plain HTTP (error 7).")
    ] = False,
    service: Annotated[
        list[str] | None,
        typer.Option(
            "--service",
            metavar="NAME=TRANSPORT/AUTH",
            help="One service's security, e.g. camera=https/basic (system, camera, logging).",
        ),
    ] = None,
    resolution: Annotated[
        list[str] | None,
        typer.Option(
            "--resolution",
            metavar="WxH",
            help="A JPEG size the camera makes (repeat; default: the documented six plus "
            "1280x720, 1280x960, 1920x1080).",
        ),
    ] = None,
    no_external: Annotated[
        bool, typer.Option("--no-external", help="No external IP camera (source internal only).")
    ] = False,
    past_size: Annotated[
        str,
        typer.Option("--past-size", help="time= with a size over 1280x960: fit or refuse."),
    ] = "fit",
    max_fps: Annotated[int, typer.Option("--max-fps", min=1, help="Fastest push stream.")] = 15,
    event_interval: Annotated[
        float,
        typer.Option("--event-interval", min=0, help="Seconds between happenings (0: none)."),
    ] = 12.0,
    trailing_comma: Annotated[
        bool, typer.Option("--trailing-comma", help='Answer { "success" : true, } as documented.')
    ] = False,
    latency: LatencyOpt = 0.0,
    fault: FaultOpt = Fault.NONE,
    fault_rate: FaultRateOpt = 1.0,
    fault_on: FaultOnOpt = None,
) -> None:
    """A 2N IP intercom: system info, camera snapshots (past 30 s, MJPEG push), the event log."""
    from camfetch.sim.two_n import (
        ALL_PRIVILEGES,
        ApiUser,
        Privilege,
        ServiceSecurity,
        TwoNSimulator,
    )

    check_choices(("--auth", auth, _AUTH_MODES), ("--past-size", past_size, {"fit", "refuse"}))
    granted = ALL_PRIVILEGES
    if privileges != "all":
        words = [w.strip() for w in privileges.split(",") if w.strip() and w.strip() != "none"]
        try:
            granted = frozenset(Privilege(w) for w in words)
        except ValueError:
            known = ", ".join(p.value for p in Privilege)
            raise typer.BadParameter(f"--privileges: expected all, none or {known}") from None
    overrides: dict[str, ServiceSecurity] = {}
    for item in service or []:
        key, _, value = item.partition("=")
        transport, _, mode = value.partition("/")
        if key not in _SERVICES or transport not in {"http", "https"} or mode not in _AUTH_MODES:
            raise typer.BadParameter(
                f"--service {item!r}: expected NAME=TRANSPORT/AUTH, NAME one of "
                f"{', '.join(_SERVICES)}, TRANSPORT http or https, AUTH one of "
                f"{', '.join(_AUTH_MODES)}"
            )
        overrides[key] = ServiceSecurity(transport, mode)  # type: ignore[arg-type]
    device = TwoNSimulator(
        name=name,
        variant=variant,
        firmware=firmware,
        resolutions=[_size(r) for r in resolution] if resolution else None,
        external_camera=not no_external,
        auth=auth,  # type: ignore[arg-type]
        https_only=https_only,
        services=overrides,
        users=[ApiUser(user, password, granted)],
        https_port=https_port,
        max_fps=max_fps,
        past_size=past_size,  # type: ignore[arg-type]
        event_interval=event_interval,
        trailing_comma=trailing_comma,
        username=user,
        password=password,
        tz=tz,
        skew=skew,
        host=host,
        port=port,
    )
    apply_faults(device.faults, fault, fault_rate, fault_on, latency)

    run(serve_until_stopped([device]))
