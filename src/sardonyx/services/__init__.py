"""The service layer: launch and manage services (``ServiceManager``), called the same way by the CLI (through
the REST API), the REST API and the web UI.

Public API: ``ServiceManager``, ``LaunchRequest``, ``LaunchPreview``, ``ServiceView``, ``ServiceEvent``,
``EventBus``, ``flatten_values``, ``service_password``, ``launch_overrides``.
"""

from sardonyx.services.events import EventBus
from sardonyx.services.manager import ServiceManager, launch_overrides
from sardonyx.services.model import (
    LaunchPreview,
    LaunchRequest,
    ServiceEvent,
    ServiceView,
    flatten_values,
    service_password,
)

__all__ = [
    "EventBus",
    "LaunchPreview",
    "LaunchRequest",
    "ServiceEvent",
    "ServiceManager",
    "ServiceView",
    "flatten_values",
    "launch_overrides",
    "service_password",
]
