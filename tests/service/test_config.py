"""The configuration file: validation with line numbers, secrets, paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from camfetch.service.config import (
    ConfigError,
    HealthJob,
    TimelapseJob,
    load_config,
    parse_duration,
)

EXAMPLE = Path(__file__).parents[2] / "docs" / "camfetch.example.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "camfetch.yaml"
    path.write_text(text)
    return path


def problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=env or {})
    return [f"{p.line}:{p.where}:{p.message}" for p in info.value.problems]


def test_the_documented_example_is_valid(tmp_path: Path):
    secret = tmp_path / "nvr"
    secret.write_text("from-a-file\n")
    text = EXAMPLE.read_text().replace("/run/secrets/warehouse_nvr", str(secret))
    config = load_config(
        write(tmp_path, text), environ={"FRONT_DOOR_PASSWORD": "a", "GATE_PASSWORD": "b"}
    )
    assert [d.name for d in config.devices] == ["front-door", "warehouse-nvr", "gate"]
    assert config.device("warehouse-nvr").password == "from-a-file"
    assert config.device("front-door").password == "a"
    tl = config.jobs[0]
    assert isinstance(tl, TimelapseJob) and tl.interval == 60 and tl.retention == 30 * 86400
    assert tl.active is not None and tl.active.daylight is not None
    assert isinstance(config.jobs[2], HealthJob) and config.jobs[2].thresholds.frozen_checks == 3
    assert config.storage.root == (tmp_path / "camfetch-data").resolve()
    assert config.catalog_url() == f"sqlite:///{(tmp_path / 'camfetch-data/catalog.db').resolve()}"


def test_every_error_with_its_line(tmp_path: Path):
    path = write(
        tmp_path,
        "devices:\n"  # 1
        "  - name: front door\n"  # 2
        "    url: viewtron://x\n"  # 3
        "    password: ${NOPE}\n"  # 4
        "  - name: yard\n"  # 5
        "    url: not-a-url\n"  # 6
        "    colour: red\n"  # 7
        "jobs:\n"  # 8
        "  - name: tl\n"  # 9
        "    type: timelapse\n"  # 10
        "    interval: 5x\n"  # 11
        "  - {name: h, type: health, thresholds: {black_luma: 300}}\n"  # 12
        "  - {name: b, type: bogus}\n",  # 13
    )
    found = problems(path)
    assert any(p.startswith("2:devices[0].name:") for p in found)
    assert "4:devices[0].password:${NOPE}: environment variable NOPE is not set" in found
    assert any(p.startswith("6:devices[1].url:") for p in found)
    assert "7:devices[1].colour:unknown setting (check its spelling)" in found
    assert any(p.startswith("11:jobs[0].interval:not a duration") for p in found)
    assert any(p.startswith("12:jobs[1].thresholds.black_luma:") for p in found)
    assert any(p.startswith("13:jobs[2]") for p in found)


def test_references_with_their_lines(tmp_path: Path):
    path = write(
        tmp_path,
        "devices:\n"
        "  - {name: yard, url: viewtron://x}\n"
        "  - {name: yard, url: viewtron://y}\n"
        "groups:\n"
        "  entrance: [yard, garage]\n"
        "jobs:\n"
        "  - {name: tl, type: timelapse, interval: 60, cameras: [yard, 'group:nope', 'shed:2']}\n",
    )
    assert problems(path) == [
        "3:devices[1].name:'yard' is used twice",
        "5:groups.entrance[1]:no device named 'garage'",
        "7:jobs[0].cameras[1]:no group named 'nope'",
        "7:jobs[0].cameras[2]:no device named 'shed'",
    ]


def test_yaml_syntax_error_has_a_line(tmp_path: Path):
    path = write(tmp_path, "devices:\n  - name: a\n    url: [unclosed\n")
    (problem,) = problems(path)
    assert problem.startswith(("3:", "4:")) and "not valid YAML" in problem


def test_api_beyond_loopback_needs_a_token(tmp_path: Path):
    base = "devices: [{name: a, url: viewtron://x}]\napi: {listen: '0.0.0.0:8080'%s}\n"
    (problem,) = problems(write(tmp_path, base % ""))
    assert "needs a token" in problem
    config = load_config(write(tmp_path, base % ", token: '${T}'"), environ={"T": "s3cret"})
    assert config.api.token == "s3cret" and config.api.port == 8080


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("12h", 43200.0),
        ("30d", 2592000.0),
        ("1w", 604800.0),
    ],
)
def test_durations(text: object, seconds: float):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["0", "-5s", "5 parsecs", "", True])
def test_bad_durations(bad: object):
    with pytest.raises(ValueError):
        parse_duration(bad)
