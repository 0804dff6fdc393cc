"""The Git identity a user sets on the account page, injected into every launch (launch context ``git.*``).

Onyxia keeps ``gitName``, ``gitEmail``, ``gitCredentialCacheDuration`` and ``githubPersonalAccessToken`` in the
user's configuration (ONYXIA-REFERENCE 4.4, 4.8); charts read them as ``git.name``, ``git.email``,
``git.credentials_cache_duration`` and ``git.token``. Here they are kept in the state store's user preferences.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sardonyx.errors import BadRequest, Violation

PREFERENCE_KEY = "git"


class PreferenceStore(Protocol):
    def user_preferences(self, user: str) -> dict[str, Any]: ...

    def save_user_preferences(self, user: str, preferences: dict[str, Any]) -> None: ...


class GitIdentity(BaseModel):
    """A user's Git identity; empty fields fall back to the user's name and e-mail at launch."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    name: str = Field(default="", max_length=200, description="Git user name (author and committer).")
    email: str = Field(default="", max_length=320, description="Git e-mail address.")
    token: str = Field(default="", max_length=1000, description="Personal access token (GitHub, GitLab...).")
    credentials_cache_duration: int = Field(
        default=0, ge=0, le=31_536_000, description="How long Git caches the token, in seconds (0: the default)."
    )

    @field_validator("name", "email", "token")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        if any(ord(c) < 32 for c in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str) -> str:
        if value and ("@" not in value or " " in value):
            raise ValueError("must be an e-mail address such as ada@example.org")
        return value

    @classmethod
    def parse(cls, data: dict[str, Any]) -> GitIdentity:
        """Validate form or JSON input. Raises ``BadRequest`` with every violation."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            violations = [
                Violation(".".join(str(p) for p in problem["loc"]), problem["msg"].removeprefix("Value error, "))
                for problem in error.errors()
            ]
            raise BadRequest("invalid Git identity", violations=violations) from error

    @classmethod
    def load(cls, store: PreferenceStore, user: str) -> GitIdentity:
        """The saved identity of ``user`` (empty when none was saved, or when what was saved is unreadable)."""
        saved = store.user_preferences(user).get(PREFERENCE_KEY)
        if not isinstance(saved, dict):
            return cls()
        try:
            return cls.model_validate(saved)
        except ValidationError:
            return cls()

    def save(self, store: PreferenceStore, user: str) -> None:
        preferences = store.user_preferences(user)
        preferences[PREFERENCE_KEY] = self.model_dump()
        store.save_user_preferences(user, preferences)
