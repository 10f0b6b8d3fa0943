"""How a call that failed on its way is classed: the outcome (vocabulary.OUTCOMES) of an exception urllib3 raised, and
a short error. A failure is data, never a crash."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import urllib3

from crawler.guard import RefusedAddress

ERROR_MAX_CHARS = 200  # an error as stored: enough to tell what happened


def _causes(e: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException] = [e]
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        stack.extend(a for a in cur.args if isinstance(a, BaseException))
        for nxt in (getattr(cur, "reason", None), cur.__cause__, cur.__context__):
            if isinstance(nxt, BaseException):
                stack.append(nxt)



def classify_exception(e: BaseException) -> tuple[str, str]:
    """The outcome class of an exception urllib3 raised, and a short error: a failure is data, never a crash."""
    causes = list(_causes(e))
    for cause in causes:
        if isinstance(cause, RefusedAddress):
            return "refused", str(cause)
    if any(isinstance(c, (urllib3.exceptions.SSLError, ssl.SSLError, ssl.CertificateError)) for c in causes):
        return "tls", _short(e)
    if isinstance(e, (urllib3.exceptions.TimeoutError, TimeoutError)):
        return "timeout", _short(e)
    if isinstance(e, (urllib3.exceptions.LocationValueError, urllib3.exceptions.URLSchemeUnknown)):
        return "refused", _short(e)
    if isinstance(e, urllib3.exceptions.DecodeError):
        return "parse", _short(e)
    if any(isinstance(c, (socket.gaierror, urllib3.exceptions.NameResolutionError)) for c in causes):
        return "dns", _short(e)
    return "connect", _short(e)



def _short(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:ERROR_MAX_CHARS]

