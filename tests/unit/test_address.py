from pathlib import Path

import pytest

from camfetch.address import DeviceAddress, mask_url, scrub
from camfetch.errors import UsageError


def test_parse_full_url_with_options():
    a = DeviceAddress.parse(
        "viewtron://admin:p%40ss%3Aw0rd@192.0.2.5:8080?tz=Europe/Berlin&chid_base=0"
    )
    assert (a.scheme, a.host, a.port, a.username) == ("viewtron", "192.0.2.5", 8080, "admin")
    assert a.password == "p@ss:w0rd"
    assert a.options == {"tz": "Europe/Berlin", "chid_base": "0"}
    assert a.int_option("chid_base", 1) == 0


def test_masked_and_label_never_show_the_password():
    a = DeviceAddress.parse("viewtron://admin:s3cret@cam.local?token=abc&tz=UTC")
    assert "s3cret" not in a.masked() and "abc" not in a.masked()
    assert a.masked() == "viewtron://admin:***@cam.local?token=***&tz=UTC"
    assert a.label == "viewtron://admin@cam.local"
    assert "s3cret" not in repr(a)
    assert set(a.secrets()) == {"s3cret", "abc"}


def test_password_from_environment_variable():
    a = DeviceAddress.parse("viewtron://admin@h?password_env=CAM_PW", environ={"CAM_PW": "x y"})
    assert a.password == "x y"


def test_password_from_file(tmp_path: Path):
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    a = DeviceAddress.parse(f"viewtron://admin@h?password_file={secret}", environ={})
    assert a.password == "from-file"


def test_password_from_default_environment_variable():
    a = DeviceAddress.parse("viewtron://admin@h", environ={"CAMFETCH_PASSWORD": "dflt"})
    assert a.password == "dflt"
    assert DeviceAddress.parse("viewtron://h", environ={"CAMFETCH_PASSWORD": "x"}).password is None


def test_missing_password_sources_are_usage_errors(tmp_path: Path):
    with pytest.raises(UsageError, match="not set"):
        DeviceAddress.parse("viewtron://admin@h?password_env=NOPE", environ={})
    with pytest.raises(UsageError, match="cannot read password_file"):
        DeviceAddress.parse(f"viewtron://admin@h?password_file={tmp_path / 'none'}", environ={})


@pytest.mark.parametrize("url", ["not a url", "viewtron://", "://host", "viewtron://h:99999"])
def test_bad_urls(url: str):
    with pytest.raises(UsageError):
        DeviceAddress.parse(url)


def test_unknown_options_are_named():
    a = DeviceAddress.parse("viewtron://h?chidbase=0")
    with pytest.raises(UsageError, match="unknown option chidbase"):
        a.check_options({"chid_base"})


def test_option_value_errors():
    a = DeviceAddress.parse("viewtron://h?chid_base=x&https=maybe&auth=ntlm")
    with pytest.raises(UsageError, match="whole number"):
        a.int_option("chid_base", 1)
    with pytest.raises(UsageError, match="yes/no"):
        a.bool_option("https", False)
    with pytest.raises(UsageError, match="expected one of"):
        a.choice_option("auth", ("basic", "digest"), "basic")


def test_ipv6_host():
    a = DeviceAddress.parse("viewtron://admin:pw@[::1]:8080")
    assert a.host == "::1" and a.netloc == "[::1]:8080"


def test_mask_url_and_scrub():
    url = "rtsp://admin:p%40ss@10.0.0.1:554/chID=1&date=2026-01-01"
    assert mask_url(url) == "rtsp://admin:***@10.0.0.1:554/chID=1&date=2026-01-01"
    text = "Opening rtsp://admin:p%40ss@h/x failed; password p@ss rejected"
    cleaned = scrub(text, ["p@ss"])
    assert "p@ss" not in cleaned and "p%40ss" not in cleaned


def test_without_password_keeps_everything_else():
    a = DeviceAddress.parse("2n://api:p%40ss@10.0.0.1:8443/x?https=1&verify=0", environ={})
    assert a.without_password() == "2n://api@10.0.0.1:8443/x?https=1&verify=0"
    again = DeviceAddress.parse(a.without_password(), environ={"CAMFETCH_PASSWORD": "p@ss"})
    assert again.password == "p@ss" and again.options == a.options
