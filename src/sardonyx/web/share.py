"""Share links for files: platform URLs that expire, with a clear page once they have.

A raw S3 presigned URL answers an XML error once expired; a share link made here (``/share/<token>``) says in a
page when it expired and who to ask. The token carries the bucket, the key and the expiry time, signed with
HMAC-SHA256 under a key derived from the project's S3 secret key: nobody can forge or extend one, and revoking
the project's credentials revokes its links. A valid link streams the object through the platform (as an
attachment). The file page shows the direct presigned S3 URL too, for scripts (same lifetime).

Token: ``base64url(json {"b": bucket, "k": key, "e": expiry epoch seconds}) "." base64url(hmac)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Final

from sardonyx.errors import BadRequest, NotFound, SardonyxError, Violation
from sardonyx.storage.browse import PRESIGN_MAX_SECONDS

LIFETIMES: Final[tuple[tuple[int, str], ...]] = (
    (3600, "1 hour"),
    (86400, "1 day"),
    (7 * 86400, "7 days"),
)
"""Lifetimes offered in the share dialog, in seconds (7 days is the SigV4 maximum of presigned URLs)."""


class ShareLinkExpired(SardonyxError):
    """A share link past its expiry time (HTTP 410 Gone)."""

    status = 410
    reason = "share-link-expired"
    title = "This share link has expired"


@dataclass(frozen=True)
class ShareToken:
    bucket: str
    key: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signing_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"sardonyx share links v1", hashlib.sha256).digest()


def make_token(bucket: str, key: str, lifetime_seconds: int, secret: str, *, now: float | None = None) -> str:
    """A share token for ``bucket/key`` valid ``lifetime_seconds`` (1 s to 7 days).

    Raises:
        BadRequest: a lifetime out of range.
    """
    if not 1 <= lifetime_seconds <= PRESIGN_MAX_SECONDS:
        raise BadRequest(
            "invalid lifetime",
            violations=[Violation("lifetime", f"must be between 1 second and {PRESIGN_MAX_SECONDS // 86400} days")],
        )
    expires = int((now if now is not None else time.time()) + lifetime_seconds)
    payload = _b64(json.dumps({"b": bucket, "k": key, "e": expires}, separators=(",", ":")).encode())
    signature = _b64(hmac.new(_signing_key(secret), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def read_token(token: str, secret: str, *, now: float | None = None) -> ShareToken:
    """The bucket, key and expiry of a valid token.

    Raises:
        NotFound: a malformed or forged token (reported as an unknown link, revealing nothing).
        ShareLinkExpired: a genuine token past its expiry (the message gives the date, UTC).
    """
    payload, _, signature = token.partition(".")
    expected = _b64(hmac.new(_signing_key(secret), payload.encode(), hashlib.sha256).digest())
    if not payload or not hmac.compare_digest(signature, expected):
        raise NotFound("this share link is not valid: check that it was copied whole")
    try:
        data = json.loads(_unb64(payload))
        parsed = ShareToken(bucket=str(data["b"]), key=str(data["k"]), expires_at=int(data["e"]))
    except (ValueError, KeyError, TypeError) as error:
        raise NotFound("this share link is not valid: check that it was copied whole") from error
    current = now if now is not None else time.time()
    if current >= parsed.expires_at:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(parsed.expires_at))
        name = parsed.key.rsplit("/", 1)[-1]
        raise ShareLinkExpired(f"the link to {name} expired on {when}; ask the person who shared it for a new link")
    return parsed


def bucket_of_token(token: str) -> str:
    """The bucket a token names (unverified: to find the key that verifies it). Raises ``NotFound``."""
    payload = token.partition(".")[0]
    try:
        return str(json.loads(_unb64(payload))["b"])
    except (ValueError, KeyError, TypeError) as error:
        raise NotFound("this share link is not valid: check that it was copied whole") from error
