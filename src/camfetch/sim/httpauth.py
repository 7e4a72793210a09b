"""HTTP authentication as devices do it, for the simulators' aiohttp servers.

:class:`DeviceLogin` checks ``Authorization`` headers against one user and
builds the ``WWW-Authenticate`` challenges a device sends: Basic, and Digest
(MD5, with ``qop="auth"`` or without, nonces that expire and are then
reported ``stale=TRUE``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from enum import Enum

from aiohttp import web


class Verdict(Enum):
    OK = "ok"
    MISSING = "missing"
    WRONG = "wrong"
    STALE = "stale"  # right password, expired nonce


def parse_digest(header: str) -> dict[str, str]:
    """The key=value pairs of a Digest header, quotes removed."""
    out: dict[str, str] = {}
    rest = header.strip()
    while rest:
        key, sep, rest = rest.partition("=")
        if not sep:
            break
        key = key.strip().lstrip(",").strip()
        rest = rest.lstrip()
        if rest.startswith('"'):
            end = 1
            while end < len(rest) and rest[end] != '"':
                end += 2 if rest[end] == "\\" else 1
            value, rest = rest[1:end].replace('\\"', '"'), rest[end + 1 :]
        else:
            value, _, rest = rest.partition(",")
            value = value.strip()
        out[key.lower()] = value
        rest = rest.lstrip().lstrip(",")
    return out


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def basic_credentials(token: str) -> tuple[str, str] | None:
    """(user, password) of a Basic token, or None if it does not decode."""
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


def digest_response(method: str, fields: dict[str, str], realm: str, password: str) -> str | None:
    """The Digest (MD5) response a client with ``password`` must send, or None if fields lack.

    With ``qop=auth`` (RFC 2617) or without qop (RFC 2069, as Dahua RTSP servers use).
    """
    if "username" not in fields or "nonce" not in fields:
        return None
    ha1 = _md5(f"{fields['username']}:{realm}:{password}")
    ha2 = _md5(f"{method}:{fields.get('uri', '')}")
    qop = fields.get("qop")
    if not qop:
        return _md5(f"{ha1}:{fields['nonce']}:{ha2}")
    if qop != "auth" or "nc" not in fields or "cnonce" not in fields:
        return None
    return _md5(f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")


@dataclass
class DeviceLogin:
    username: str
    password: str = field(repr=False)
    realm: str = "device"
    basic: bool = True
    digest: bool = False
    qop: bool = True  # Digest with qop="auth"; False for RFC 2069 style
    nonce_lifetime: float = 300.0
    _nonces: dict[str, float] = field(default_factory=dict, repr=False)

    def check(self, method: str, header: str | None) -> Verdict:
        if not header:
            return Verdict.MISSING
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and self.basic:
            pair = basic_credentials(value)
            if pair is None:
                return Verdict.WRONG
            ok = hmac.compare_digest(pair[0], self.username) and hmac.compare_digest(
                pair[1], self.password
            )
            return Verdict.OK if ok else Verdict.WRONG
        if scheme == "digest" and self.digest:
            return self._check_digest(method, parse_digest(value))
        return Verdict.WRONG

    def _check_digest(self, method: str, fields: dict[str, str]) -> Verdict:
        if fields.get("username") != self.username or fields.get("realm") != self.realm:
            return Verdict.WRONG
        nonce = fields.get("nonce", "")
        expected = digest_response(method, fields, self.realm, self.password)
        if expected is None or bool(fields.get("qop")) != self.qop:
            return Verdict.WRONG
        if not hmac.compare_digest(expected, fields.get("response", "")):
            return Verdict.WRONG
        issued = self._nonces.get(nonce)
        if issued is None or time.monotonic() - issued > self.nonce_lifetime:
            return Verdict.STALE
        return Verdict.OK

    def challenges(self, *, stale: bool = False) -> list[str]:
        """WWW-Authenticate values, Digest first when offered."""
        out = []
        if self.digest:
            nonce = secrets.token_hex(16)
            now = time.monotonic()
            self._nonces = {n: t for n, t in self._nonces.items() if now - t < self.nonce_lifetime}
            self._nonces[nonce] = now
            parts = [f'realm="{self.realm}"']
            if self.qop:
                parts.append('qop="auth"')
            parts.append(f'nonce="{nonce}"')
            parts.append(f'opaque="{secrets.token_hex(8)}"')
            if stale:
                parts.append("stale=TRUE")
            out.append("Digest " + ", ".join(parts))
        if self.basic:
            out.append(f'Basic realm="{self.realm}"')
        return out

    def unauthorized(self, *, stale: bool = False, body: bytes = b"") -> web.Response:
        response = web.Response(status=401, body=body or b"401 Unauthorized")
        for value in self.challenges(stale=stale):
            response.headers.add("WWW-Authenticate", value)
        return response
