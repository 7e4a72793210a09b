"""The service's configuration: a YAML file validated by pydantic, errors with their lines.

Secrets never have to be written into the file: any string may contain
``${NAME}`` (an environment variable), ``${NAME:-default}``, or ``${file:PATH}``
(the first line of a file, e.g. a container secret). Relative paths (the
storage root, a SQLite catalog) are read relative to the config file.

:func:`load_config` returns a :class:`Config` or raises :class:`ConfigError`,
whose :attr:`~ConfigError.problems` each carry the line and column of the
offending value, for ``camfetch config check``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import time as clock_time
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from camfetch.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNIT = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_SECRET = re.compile(r"\$\{([^}]+)\}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``"90s"``, ``"5m"``, ``"12h"``, ``"30d"``, ``"2w"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"not a duration: {value!r} (use e.g. 60, 90s, 5m, 12h, 30d)")
        seconds = float(match.group(1)) * _UNIT[(match.group(2) or "").lower() or None]
    if seconds <= 0:
        raise ValueError("a duration must be more than zero")
    return seconds


Duration = Annotated[float, Field(description="seconds, or 90s / 5m / 12h / 30d")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceConfig(_Model):
    """One device: a camera, NVR, intercom or video server."""

    name: str
    url: str
    password: str | None = Field(default=None, repr=False)
    time_zone: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    channels: list[int] | None = None  # None: every channel the device reports
    max_requests: int | None = Field(default=None, ge=1)
    expected_size: str | None = None  # WxH the health check expects

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "use letters, digits, '.', '_' and '-' (it names folders and API paths)"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("expected a device URL such as viewtron://admin@192.0.2.10")
        return value

    @field_validator("expected_size")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d+x\d+", value):
            raise ValueError("expected WIDTHxHEIGHT, e.g. 1920x1080")
        return value


class Daylight(_Model):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    margin: Duration = 0.0  # seconds before sunrise and after sunset

    @field_validator("margin", mode="before")
    @classmethod
    def _margin(cls, value: object) -> float:
        return 0.0 if value in (0, "0") else parse_duration(value)


class ActiveWindow(_Model):
    """When a timelapse captures: always (no window), between two times, daylight, or cron."""

    between: str | None = None  # "06:00-20:00" on the device's clock (may wrap midnight)
    cron: str | None = None  # five fields: minute hour day-of-month month day-of-week
    daylight: Daylight | None = None

    @model_validator(mode="after")
    def _one(self) -> ActiveWindow:
        chosen = [k for k in ("between", "cron", "daylight") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("give exactly one of between, cron, daylight")
        if self.between is not None:
            parse_between(self.between)
        if self.cron is not None:
            from camfetch.service.schedule import CronSpec

            CronSpec.parse(self.cron)
        return self


def parse_between(text: str) -> tuple[clock_time, clock_time]:
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError("expected HH:MM-HH:MM, e.g. 06:00-20:00")
    try:
        return clock_time.fromisoformat(start.strip()), clock_time.fromisoformat(end.strip())
    except ValueError:
        raise ValueError(f"expected HH:MM-HH:MM, e.g. 06:00-20:00, not {text!r}") from None


class _JobBase(_Model):
    name: str
    cameras: list[str] = Field(default_factory=lambda: ["*"])  # device, device:N, group:G, *


class TimelapseJob(_JobBase):
    """Capture a picture of each camera every ``interval``, aligned to the clock."""

    type: Literal["timelapse"]
    interval: Duration
    active: ActiveWindow | None = None
    retention: Duration | None = None  # None keeps pictures for ever

    @field_validator("interval", "retention", mode="before")
    @classmethod
    def _durations(cls, value: object) -> float | None:
        return None if value is None else parse_duration(value)


class Thresholds(_Model):
    latency: Duration = 5.0  # a snapshot slower than this is degraded
    black_luma: float = Field(default=16.0, ge=0, le=255)  # mean luma below: black
    frozen_checks: int = Field(default=3, ge=2)  # this many identical pictures: frozen
    skew: Duration = 30.0  # device clock off by more: degraded
    hysteresis: int = Field(default=2, ge=1)  # observations in a row before the status changes

    @field_validator("latency", "skew", mode="before")
    @classmethod
    def _durations(cls, value: object) -> float:
        return parse_duration(value)


class HealthJob(_JobBase):
    """Check each camera every ``interval``: reachable, picture real, clock right."""

    type: Literal["health"]
    interval: Duration = 300.0
    thresholds: Thresholds = Field(default_factory=Thresholds)

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)


class TimelapseBuildJob(_JobBase):
    """Every day at ``at`` (host time), build a video of each camera's last ``span``."""

    type: Literal["timelapse-build"]
    at: str = "00:05"
    span: Duration = 86400.0
    fps: int = Field(default=25, ge=1, le=120)
    stamp: bool = True
    output: str = "timelapse"  # folder under the storage root

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        clock_time.fromisoformat(value)
        return value

    @field_validator("span", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)


Job = Annotated[TimelapseJob | HealthJob | TimelapseBuildJob, Field(discriminator="type")]


class StorageConfig(_Model):
    root: Path = Path("camfetch-data")


class ApiConfig(_Model):
    listen: str = "127.0.0.1:8080"
    token: str | None = Field(default=None, repr=False)
    refresh: Duration = 2.0  # the latest picture of a camera is fetched at most this often

    @field_validator("refresh", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)

    @property
    def host(self) -> str:
        host, _, _ = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        _, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @model_validator(mode="after")
    def _token_when_exposed(self) -> ApiConfig:
        if not is_loopback(self.host) and not self.token:
            raise ValueError(
                "an API listening beyond loopback needs a token (api.token: ${CAMFETCH_API_TOKEN})"
            )
        return self


def is_loopback(host: str) -> bool:
    return host in {"localhost", "::1"} or host.startswith("127.")


class Config(_Model):
    storage: StorageConfig = Field(default_factory=StorageConfig)
    catalog: str | None = None  # SQLAlchemy URL; default sqlite in the storage root
    api: ApiConfig = Field(default_factory=ApiConfig)
    devices: list[DeviceConfig]
    groups: dict[str, list[str]] = Field(default_factory=dict)
    jobs: list[Job] = Field(default_factory=list)

    @field_validator("jobs", mode="before")
    @classmethod
    def _no_jobs(cls, value: object) -> object:
        """``jobs:`` with nothing under it means no jobs."""
        return [] if value is None else value

    @field_validator("groups", mode="before")
    @classmethod
    def _no_groups(cls, value: object) -> object:
        return {} if value is None else value

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Config:
        if not (info.context or {}).get("defer_references"):
            problems = self.reference_problems()
            if problems:
                raise ValueError(f"{_dotted(problems[0][0])}: {problems[0][1]}")
        return self

    def reference_problems(self) -> list[tuple[tuple[Any, ...], str]]:
        """Names that point nowhere or twice: (location, message) pairs."""
        problems: list[tuple[tuple[Any, ...], str]] = []
        seen: set[str] = set()
        for index, device in enumerate(self.devices):
            if device.name in seen:
                problems.append((("devices", index, "name"), f"{device.name!r} is used twice"))
            seen.add(device.name)
        for group, members in self.groups.items():
            for index, member in enumerate(members):
                if member.partition(":")[0] not in seen:
                    problems.append(
                        (("groups", group, index), f"no device named {member.partition(':')[0]!r}")
                    )
        jobs: set[str] = set()
        for index, job in enumerate(self.jobs):
            if job.name in jobs:
                problems.append((("jobs", index, "name"), f"job name {job.name!r} is used twice"))
            jobs.add(job.name)
            for ref_index, ref in enumerate(job.cameras):
                message = self._ref_problem(ref, seen)
                if message:
                    problems.append((("jobs", index, "cameras", ref_index), message))
        return problems

    def _ref_problem(self, ref: str, devices: set[str]) -> str | None:
        if ref == "*":
            return None
        if ref.startswith("group:"):
            return None if ref[6:] in self.groups else f"no group named {ref[6:]!r}"
        name = ref.partition(":")[0]
        return None if name in devices else f"no device named {name!r}"

    def device(self, name: str) -> DeviceConfig:
        for device in self.devices:
            if device.name == name:
                return device
        raise UsageError(f"no device named {name!r} in the configuration")

    def catalog_url(self) -> str:
        return self.catalog or f"sqlite:///{self.storage.root / 'catalog.db'}"


# -- loading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    line: int | None  # 1-based
    column: int | None
    where: str  # dotted path, e.g. devices[0].url
    message: str

    def __str__(self) -> str:
        place = f"line {self.line}" if self.line else "file"
        return (
            f"{place}: {self.where}: {self.message}" if self.where else f"{place}: {self.message}"
        )


class ConfigError(UsageError):
    """The configuration is not usable; :attr:`problems` says where and why."""

    def __init__(self, path: Path, problems: list[ConfigProblem]) -> None:
        self.path = path
        self.problems = problems
        first = problems[0] if problems else ConfigProblem(None, None, "", "invalid")
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{path}: {first}{more}")


def load_config(path: Path, *, environ: dict[str, str] | None = None) -> Config:
    env = dict(os.environ) if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            path, [ConfigProblem(None, None, "", f"cannot read: {exc.strerror}")]
        ) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        message = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            path, [ConfigProblem(line, column, "", f"not valid YAML: {message}")]
        ) from None
    if root is None:
        raise ConfigError(path, [ConfigProblem(1, 1, "", "the file is empty")])
    problems: list[ConfigProblem] = []
    data = _construct(root, env, (), problems)
    if not isinstance(data, dict):
        raise ConfigError(path, [ConfigProblem(1, 1, "", "expected a mapping at the top level")])
    try:
        config = Config.model_validate(data, context={"defer_references": True})
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            mark = _node_at(root, loc).start_mark
            problems.append(
                ConfigProblem(mark.line + 1, mark.column + 1, _dotted(loc), _message(error))
            )
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise ConfigError(path, problems) from None
    for loc, message in config.reference_problems():
        mark = _node_at(root, loc).start_mark
        problems.append(ConfigProblem(mark.line + 1, mark.column + 1, _dotted(loc), message))
    if problems:
        raise ConfigError(path, sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    return _resolve_paths(config, path.parent)


def _construct(
    node: yaml.Node, env: dict[str, str], where: tuple[Any, ...], problems: list[ConfigProblem]
) -> Any:
    """Plain data from a YAML node, with ${...} replaced (problems collected with lines)."""
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            out[key] = _construct(value_node, env, (*where, key), problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, env, (*where, i), problems) for i, item in enumerate(node.value)]
    value = _scalar(node)
    if isinstance(value, str) and "${" in value:
        try:
            return _substitute(value, env)
        except ValueError as exc:
            problems.append(
                ConfigProblem(
                    node.start_mark.line + 1, node.start_mark.column + 1, _dotted(where), str(exc)
                )
            )
            return value
    return value


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _substitute(text: str, env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        if expr.startswith("file:"):
            target = Path(expr[5:]).expanduser()
            try:
                return (
                    target.read_text(encoding="utf-8").splitlines()[0]
                    if target.stat().st_size
                    else ""
                )
            except OSError as exc:
                raise ValueError(f"${{{expr}}}: cannot read the file ({exc.strerror})") from None
        name, sep, default = expr.partition(":-")
        if name in env:
            return env[name]
        if sep:
            return default
        raise ValueError(f"${{{name}}}: environment variable {name} is not set")

    return _SECRET.sub(one, text)


_JOB_TAGS = frozenset({"timelapse", "health", "timelapse-build"})


def _node_at(root: yaml.Node, loc: tuple[Any, ...]) -> yaml.Node:
    """The YAML node a pydantic error location points at (as deep as it exists)."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            found = node.value[part] if part < len(node.value) else None
        else:
            found = None
        if found is not None:
            node = found  # a part not in the file (a union tag, a missing key) keeps the parent
    return node


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    previous: Any = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(previous, int) and part in _JOB_TAGS:
            pass  # pydantic names the union branch (the job type): not a setting
        else:
            out += ("." if out else "") + str(part)
        previous = part
    return out


def _message(error: Any) -> str:
    message = str(error.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error.get("type") == "extra_forbidden":
        return "unknown setting (check its spelling)"
    if error.get("type") == "missing":
        return "required setting is missing"
    return message


def _resolve_paths(config: Config, base: Path) -> Config:
    root = config.storage.root if config.storage.root.is_absolute() else base / config.storage.root
    catalog = config.catalog
    if catalog and catalog.startswith("sqlite:///") and not catalog.startswith("sqlite:////"):
        relative = catalog[len("sqlite:///") :]
        if relative and relative != ":memory:":
            catalog = f"sqlite:///{(base / relative).resolve()}"
    return config.model_copy(
        update={"storage": StorageConfig(root=root.resolve()), "catalog": catalog}
    )
