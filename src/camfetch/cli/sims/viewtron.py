"""``camfetch sim viewtron``: a Viewtron IPC (API v1.9) or NVR (API v2.0)."""

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


@sim_app.command("viewtron")
def viewtron(
    api: Annotated[str, typer.Option("--api", help="Firmware generation: 1.9 or 2.0.")] = "2.0",
    kind: Annotated[
        str | None, typer.Option("--kind", help="ipc or nvr (default: ipc on 1.9, nvr on 2.0).")
    ] = None,
    channels: Annotated[int, typer.Option("--channels", min=1, max=64, help="NVR channels.")] = 4,
    port: PortOpt = 0,
    rtsp_port: Annotated[int, typer.Option("--rtsp-port", min=0, max=65535)] = 0,
    user: UserOpt = DEFAULT_USER,
    password: PasswordOpt = DEFAULT_PASSWORD,
    name: Annotated[
        str | None, typer.Option("--name", help="Device name shown in pictures.")
    ] = None,
    tz: TzOpt = "Europe/Berlin",
    skew: SkewOpt = 0.0,
    host: HostOpt = "127.0.0.1",
    config_version: Annotated[
        str | None, typer.Option("--config-version", help="v1.9 only: 1.0 or 1.7.")
    ] = None,
    snapshot_by_time: Annotated[
        str, typer.Option("--snapshot-by-time", help="v1.9 answer: jpeg, h264 or hevc.")
    ] = "jpeg",
    snapshot_format: Annotated[
        str, typer.Option("--snapshot-format", help="GetSnapshot answer: jpeg or xml (base64).")
    ] = "jpeg",
    search_limit: Annotated[
        int, typer.Option("--search-limit", min=1, help="Items per SearchByTime answer.")
    ] = 1000,
    reorder: Annotated[
        str, typer.Option("--reorder", help="Reordered playback URL: hang or refuse.")
    ] = "hang",
    chid_base: Annotated[int, typer.Option("--chid-base", min=0, max=1)] = 1,
    playback_speed: Annotated[
        float, typer.Option("--playback-speed", min=0, help="1 = real time, 0 = unpaced.")
    ] = 1.0,
    latency: LatencyOpt = 0.0,
    fault: FaultOpt = Fault.NONE,
    fault_rate: FaultRateOpt = 1.0,
    fault_on: FaultOnOpt = None,
) -> None:
    """A Viewtron IPC (API v1.9) or NVR (API v2.0) with recordings and RTSP playback."""
    from camfetch.sim.viewtron import ViewtronSimulator

    if api not in {"1.9", "2.0"}:
        raise typer.BadParameter("--api must be 1.9 or 2.0")
    chosen = kind or ("ipc" if api == "1.9" else "nvr")
    check_choices(
        ("--kind", chosen, {"ipc", "nvr"}),
        ("--snapshot-by-time", snapshot_by_time, {"jpeg", "h264", "hevc"}),
        ("--snapshot-format", snapshot_format, {"jpeg", "xml"}),
        ("--reorder", reorder, {"hang", "refuse"}),
    )
    device = ViewtronSimulator(
        api=api,  # type: ignore[arg-type]
        kind=chosen,  # type: ignore[arg-type]
        channels=channels,
        name=name,
        config_version=config_version,
        snapshot_by_time=snapshot_by_time,  # type: ignore[arg-type]
        snapshot_format=snapshot_format,  # type: ignore[arg-type]
        search_limit=search_limit,
        reorder=reorder,  # type: ignore[arg-type]
        chid_base=chid_base,
        playback_speed=playback_speed,
        rtsp_port=rtsp_port,
        username=user,
        password=password,
        tz=tz,
        skew=skew,
        host=host,
        port=port,
    )
    apply_faults(device.faults, fault, fault_rate, fault_on, latency)

    run(serve_until_stopped([device]))
