"""Users and projects, modelled as Onyxia models them (``/user/info``, ONYXIA-REFERENCE 1.1 and 10).

By default there is one local user and no login: the login name (Onyxia's ``idep``) comes from the operating
system (or the ``login`` setting), made a valid RFC 1123 label, and the user has exactly one project, the
personal one, ``<namespace_prefix><idep>`` (``user-alice``), whose bucket is named after it. Group projects
(``<group_namespace_prefix><group>``) appear when the user has groups (OIDC, later).
"""

from __future__ import annotations

import getpass
import os
import pwd
from dataclasses import dataclass, field
from typing import Any

from sardonyx.errors import Forbidden, InvalidName
from sardonyx.runtimes.names import PROJECT_MAX, name_violations
from sardonyx.settings import Settings


@dataclass(frozen=True)
class Project:
    """One project: the unit of namespaces, buckets and secrets.

    Attributes:
        id: ``user-<idep>`` or ``projet-<group>``; also the namespace and the S3 bucket name.
        name: display name (``"<idep> personal project"`` or the group).
        group: None for the personal project, else the group it belongs to.
        vault_top_dir: the project's top directory in the secrets store (Onyxia ``vaultTopDir``).
    """

    id: str
    name: str
    group: str | None = None
    vault_top_dir: str = ""

    @property
    def namespace(self) -> str:
        return self.id

    @property
    def bucket(self) -> str:
        """The project's S3 bucket (named after the project, as Onyxia names personal buckets)."""
        return self.id

    @property
    def is_personal(self) -> bool:
        return self.group is None

    def as_onyxia(self) -> dict[str, Any]:
        """Onyxia's ``Project`` JSON (``group`` omitted for the personal project, as Jackson NON_NULL does)."""
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "namespace": self.namespace,
            "vaultTopDir": self.vault_top_dir,
        }
        if self.group is not None:
            data["group"] = self.group
        return data


@dataclass(frozen=True)
class User:
    """The user behind a request.

    Attributes:
        idep: login name (RFC 1123 label).
        name: full name (Onyxia ``nomComplet``).
        projects: the personal project first, then group projects.
    """

    idep: str
    name: str
    email: str
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    ip: str = "127.0.0.1"
    projects: tuple[Project, ...] = field(default_factory=tuple)

    @property
    def personal_project(self) -> Project:
        return next(p for p in self.projects if p.is_personal)

    @property
    def claims(self) -> dict[str, Any]:
        """What catalog restrictions are matched against (the OIDC claims of Onyxia)."""
        return {"preferred_username": self.idep, "email": self.email, "groups": list(self.groups),
                "roles": list(self.roles), "name": self.name}  # fmt: skip

    def project(self, project_id: str | None) -> Project:
        """The project ``project_id`` (case-insensitive, like Onyxia's ``ONYXIA-PROJECT``); None or blank gives
        the personal project.

        Raises:
            Forbidden: the user has no such project (Onyxia answers 403 AccessDenied).
        """
        if not project_id or not project_id.strip():
            return self.personal_project
        wanted = project_id.strip().lower()
        for project in self.projects:
            if project.id.lower() == wanted:
                return project
        raise Forbidden(f"you have no project {project_id!r}; your projects: {', '.join(p.id for p in self.projects)}")

    def as_onyxia(self) -> dict[str, Any]:
        """``GET /user/info``: Onyxia's ``OnyxiaUser`` (``email, idep, nomComplet, ip, groups, roles, projects``)."""
        return {
            "email": self.email,
            "idep": self.idep,
            "nomComplet": self.name,
            "ip": self.ip,
            "groups": list(self.groups),
            "roles": list(self.roles),
            "projects": [p.as_onyxia() for p in self.projects],
        }


def os_login() -> str:
    """The operating system's login name (``$USER`` when there is no passwd entry, e.g. in containers)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "user")


def os_full_name(default: str) -> str:
    """The GECOS full name of the current OS user, else ``default``."""
    try:
        gecos = pwd.getpwuid(os.getuid()).pw_gecos.split(",")[0].strip()
    except (KeyError, OSError):
        gecos = ""
    return gecos or default


def idep_from_login(login: str) -> str:
    """The login made an Onyxia idep: lower-cased, ``.``/``_``/spaces turned into ``-``.

    Raises:
        InvalidName: what remains is not an RFC 1123 label (the message says to set ``SARDONYX_LOGIN``).
    """
    candidate = login.strip().lower()
    for separator in (".", "_", " "):
        candidate = candidate.replace(separator, "-")
    problems = name_violations(candidate, field="login", max_length=PROJECT_MAX - 5)
    if problems:
        raise InvalidName(
            f"the login name {login!r} cannot name a project; set SARDONYX_LOGIN to a name made of lower-case "
            "letters, digits and '-'",
            violations=problems,
        )
    return candidate


def local_user(settings: Settings) -> User:
    """The single local user: login from ``settings.login`` or the OS, one personal project.

    Raises:
        InvalidName: the login cannot name a project.
    """
    idep = idep_from_login(settings.login or os_login())
    prefix = settings.region.namespace_prefix
    project_id = f"{prefix}{idep}"
    violations = name_violations(project_id, field="project", max_length=PROJECT_MAX)
    if violations:
        raise InvalidName(f"the personal project {project_id!r} is not a valid name", violations=violations)
    personal = Project(id=project_id, name=f"{idep} personal project", vault_top_dir=idep)
    return User(
        idep=idep,
        name=os_full_name(idep) if settings.login is None else idep,
        email=f"{idep}@localhost",
        projects=(personal,),
    )


__all__ = ["Project", "User", "idep_from_login", "local_user", "os_full_name", "os_login"]
