"""The REST API (FastAPI): ``create_app(platform)``; routes in ``onyxia`` (Onyxia-compatible) and ``own``."""

from sardonyx.api.app import create_app

__all__ = ["create_app"]
