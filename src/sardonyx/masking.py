"""Secrets never printed in clear by accident: the one rule for what is a secret, and how it is masked.

A secret is a string value under a key that names one: ``*password`` (``security.password``,
``adminPassword``), ``secretAccessKey``/``secret_access_key``/``secretKey``, ``sessionToken`` and any ``*token``
(``git.token``, ``vault.token``), ``*apiKey``, ``*privateKey`` - the S3 secret key and session token, service
passwords, the Git and Vault tokens of the launch context (ONYXIA-REFERENCE 3.2, 5.2). Values, commands,
snippets and log lines are shown with each secret replaced by ``MASK``; the clear text is given only on an
explicit reveal (``--reveal`` in the CLI, ``reveal=true`` in the REST API, a "Reveal" button in the web UI), and a
service's one-time password stays available to its owner through "copy password" and the launch report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

MASK: Final = "********"
_SECRET_KEY = re.compile(r"(password|passwd|secretaccesskey|secret_access_key|secretkey|secret_key|token|apikey|"
                         r"api_key|privatekey|private_key)$", re.IGNORECASE)  # fmt: skip
_MIN_SECRET_LENGTH = 4  # shorter strings would mask ordinary words of a text


def is_secret_key(key: str) -> bool:
    """True when a values key names a secret (see the module docstring)."""
    return bool(_SECRET_KEY.search(key.replace("-", "_").split(".")[-1]))


def mask_values(values: Any) -> Any:
    """A copy of ``values`` (mappings, lists, scalars) with every non-empty secret string replaced by ``MASK``."""
    if isinstance(values, Mapping):
        return {
            key: MASK if is_secret_key(str(key)) and isinstance(value, str) and value else mask_values(value)
            for key, value in values.items()
        }
    if isinstance(values, list):
        return [mask_values(item) for item in values]
    return values


def secret_strings(values: Any) -> set[str]:
    """Every secret string of ``values`` (to mask them in free text: commands, log lines)."""
    found: set[str] = set()
    if isinstance(values, Mapping):
        for key, value in values.items():
            if is_secret_key(str(key)) and isinstance(value, str) and len(value) >= _MIN_SECRET_LENGTH:
                found.add(value)
            else:
                found |= secret_strings(value)
    elif isinstance(values, list):
        for item in values:
            found |= secret_strings(item)
    return found


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret (longest first) replaced by ``MASK``."""
    for secret in sorted({s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
