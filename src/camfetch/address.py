"""Device addresses: ``scheme://user:password@host[:port][/path]?option=value``.

The password may come from the URL, from a file (``password_file=PATH``), from
an environment variable (``password_env=NAME``) or, when the URL names a user
but no password, from ``CAMFETCH_PASSWORD``: it never has to be typed on a
command line. Anything shown to a person goes through :meth:`DeviceAddress.masked`
or :func:`mask_url`, which hide the password and secret options such as tokens.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from camfetch.errors import UsageError

PASSWORD_ENV = "CAMFETCH_PASSWORD"  # noqa: S105 - a variable name, not a secret
SECRET_OPTIONS = frozenset({"password", "token", "key", "api_key", "apikey", "secret"})
MASK = "***"
# Options every driver understands; drivers add their own.
COMMON_OPTIONS = frozenset(
    {"tz", "password_env", "password_file", "timeout", "max_requests", "auth"}
)


@dataclass(frozen=True, slots=True)
class DeviceAddress:
    scheme: str
    host: str
    port: int | None
    username: str | None
    password: str | None = field(repr=False)
    path: str = ""
    options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, url: str, *, environ: Mapping[str, str] | None = None) -> DeviceAddress:
        env = os.environ if environ is None else environ
        try:
            parts = urlsplit(url.strip())
            digit_scheme = _DIGIT_SCHEME.match(url.strip())
            if not parts.scheme and digit_scheme:
                # RFC 3986 schemes start with a letter, so urlsplit ignores "2n://":
                # read the rest as a network path and keep the scheme as written.
                rest = "//" + url.strip()[digit_scheme.end() :]
                parts = urlsplit(rest)._replace(scheme=digit_scheme.group(1))
            port = parts.port
        except ValueError as exc:
            raise UsageError(f"not a device URL: {mask_url(url)!r} ({exc})") from None
        if not parts.scheme or not parts.hostname:
            raise UsageError(
                f"not a device URL: {mask_url(url)!r}; expected scheme://user@host[:port]"
            )
        options: dict[str, str] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            options[key.lower()] = value
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        password = _resolve_password(username, password, options, env)
        return cls(
            scheme=parts.scheme.lower(),
            host=parts.hostname,
            port=port,
            username=username,
            password=password,
            path=unquote(parts.path),
            options=options,
        )

    # -- options -------------------------------------------------------------------------

    def option(self, name: str, default: str | None = None) -> str | None:
        return self.options.get(name, default)

    def int_option(self, name: str, default: int, *, minimum: int | None = None) -> int:
        raw = self.options.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise UsageError(f"option {name}={raw!r} is not a whole number") from None
        if minimum is not None and value < minimum:
            raise UsageError(f"option {name}={value} must be at least {minimum}")
        return value

    def float_option(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self.options.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise UsageError(f"option {name}={raw!r} is not a number") from None
        if value < minimum:
            raise UsageError(f"option {name}={value} must be at least {minimum}")
        return value

    def bool_option(self, name: str, default: bool) -> bool:
        raw = self.options.get(name)
        if raw is None or raw == "":
            return default
        low = raw.lower()
        if low in {"1", "true", "yes", "on"}:
            return True
        if low in {"0", "false", "no", "off"}:
            return False
        raise UsageError(f"option {name}={raw!r} is not a yes/no value")

    def choice_option(self, name: str, choices: Iterable[str], default: str) -> str:
        allowed = tuple(choices)
        raw = self.options.get(name)
        if raw is None or raw == "":
            return default
        if raw not in allowed:
            raise UsageError(f"option {name}={raw!r}: expected one of {', '.join(allowed)}")
        return raw

    def check_options(self, known: Iterable[str]) -> None:
        allowed = COMMON_OPTIONS | frozenset(known)
        unknown = sorted(set(self.options) - allowed)
        if unknown:
            raise UsageError(
                f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                f"for {self.scheme}:// (known: {', '.join(sorted(allowed))})"
            )

    # -- presentation --------------------------------------------------------------------

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.port else host

    @property
    def label(self) -> str:
        """Short name for messages: ``scheme://user@host:port/path``, no secrets."""
        user = f"{quote(self.username, safe='')}@" if self.username else ""
        return f"{self.scheme}://{user}{self.netloc}{quote(self.path)}"

    def masked(self) -> str:
        """The whole URL with the password and secret options masked."""
        user = ""
        if self.username:
            user = quote(self.username, safe="")
            if self.password is not None:
                user += ":" + MASK
            user += "@"
        query = ""
        if self.options:
            shown = {k: (MASK if k in SECRET_OPTIONS else v) for k, v in self.options.items()}
            query = "?" + urlencode(shown, safe="*/")
        return f"{self.scheme}://{user}{self.netloc}{quote(self.path)}{query}"

    def without_password(self) -> str:
        """The URL as written, but with no password in it (for a config file that gets it
        from elsewhere). Secret options such as tokens are kept: they are the address."""
        user = f"{quote(self.username, safe='')}@" if self.username else ""
        query = "?" + urlencode(self.options, safe="/") if self.options else ""
        return f"{self.scheme}://{user}{self.netloc}{quote(self.path)}{query}"

    def secrets(self) -> list[str]:
        """Every secret string of this address, for scrubbing tool output."""
        found = [self.password] if self.password else []
        found += [v for k, v in self.options.items() if k in SECRET_OPTIONS and v]
        return found


def _resolve_password(
    username: str | None,
    password: str | None,
    options: dict[str, str],
    env: Mapping[str, str],
) -> str | None:
    if password is not None:
        return password
    file_name = options.get("password_file")
    if file_name:
        path = Path(file_name).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read password_file {path}: {exc.strerror}") from None
        return text.rstrip("\r\n")
    env_name = options.get("password_env")
    if env_name:
        if env_name not in env:
            raise UsageError(f"password_env={env_name}: that environment variable is not set")
        return env[env_name]
    if username and PASSWORD_ENV in env:
        return env[PASSWORD_ENV]
    return None


_DIGIT_SCHEME = re.compile(r"^([0-9][a-zA-Z0-9+.-]*)://")
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:@/\s]*)(?::[^@/\s]*)?@")
# A secret value ends where the query does, or at a quote (a URL inside JSON or a message).
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&](?:" + "|".join(sorted(SECRET_OPTIONS)) + r")=)[^&#\s\"'<>]*", re.IGNORECASE
)


def url_authority(
    host: str, port: int, username: str | None = None, password: str | None = None
) -> str:
    """``user:password@host:port`` for a URL made for a device: user and password
    percent-encoded, an IPv6 host in brackets."""
    userinfo = ""
    if username is not None:
        userinfo = quote(username, safe="")
        if password is not None:
            userinfo += ":" + quote(password, safe="")
        userinfo += "@"
    netloc = f"[{host}]" if ":" in host else host
    return f"{userinfo}{netloc}:{port}"


def mask_url(url: str) -> str:
    """Mask the password in ``scheme://user:password@host`` and secret query values."""
    masked = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)
    return _SECRET_QUERY.sub(lambda m: f"{m['key']}{MASK}", masked)


#: Secrets shorter than this are masked in URLs only: replacing every "x" or "12"
#: in free text would garble messages without protecting anything.
MIN_SCRUB = 4


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove every secret (plain or percent-encoded) and every URL password from text."""
    out = mask_url(text)
    for secret in secrets:
        if len(secret) < MIN_SCRUB:
            continue
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            out = out.replace(form, MASK)
    return out
