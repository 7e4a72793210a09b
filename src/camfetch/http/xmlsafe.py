"""Hardened XML parsing: no DTDs, no entities, no external references.

Device XML goes through :func:`parse_xml` only. Namespaces are stripped from
tags (devices are inconsistent with them), so ``find("deviceInfo/sn")`` works.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from camfetch.errors import MalformedResponseError


def parse_xml(body: bytes | str, *, what: str = "answer") -> Element:
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not body.strip():
        raise MalformedResponseError(f"empty {what} where XML was expected")
    try:
        root: Element = SafeET.fromstring(body, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise MalformedResponseError(
            f"refused unsafe XML in {what} ({type(exc).__name__})"
        ) from None
    except ParseError as exc:
        raise MalformedResponseError(f"{what} is not well-formed XML ({exc})") from None
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            element.tag = element.tag.split("}", 1)[1]
    return root


def text_of(element: Element | None, path: str | None = None) -> str | None:
    """Stripped text of ``element`` (or of ``element.find(path)``); None if absent."""
    if element is None:
        return None
    target = element.find(path) if path else element
    if target is None or target.text is None:
        return None
    return target.text.strip()


def looks_like_xml(body: bytes) -> bool:
    head = body.lstrip()[:5]
    return head.startswith(b"<")
