"""The launch context: what ``x-onyxia.overwriteDefaultWith`` expressions refer to (Onyxia's ``XOnyxiaContext``).

Keys and meanings follow ONYXIA-REFERENCE 3.5 (``launcher/thunks.ts#getXOnyxiaContext``). Python attributes use
Onyxia's exact key names where they are valid identifiers (``s3.AWS_ACCESS_KEY_ID``, ``k8s.randomSubdomain``);
``region.from`` is ``region.from_`` in Python. ``LaunchContext.to_dict()`` gives the dict expressions resolve
against: exact Onyxia key names, and a key whose value is None is *absent*, exactly like ``undefined`` in
Onyxia, so an expression naming it is unresolvable and the field falls back to its default.

One addition to Onyxia's keys: ``s3.enabled`` and ``vault.enabled``, true whenever their block is present, so a
chart can turn a block on exactly where the region has that service (``overwriteDefaultWith: "{{vault.enabled}}"``
with ``default: false``): Onyxia's expressions cannot test a block's presence otherwise.

The platform fills the context with real values (S3 credentials, Vault token, Git identity); the CLI and the
tests use ``LaunchContext.local_default()`` and ``LaunchContext.from_file()``.
"""

from __future__ import annotations

import base64
import getpass
import os
import pwd
import re
import secrets
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeGuard

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sardonyx.errors import BadRequest, Violation

Language = Literal["en", "fr", "zh-CN", "no", "fi", "nl", "it", "es", "de"]
"""The languages of Onyxia's UI (``user.lang``)."""


class _ContextModel(BaseModel):
    # extra keys are kept: a context file may carry keys newer charts use (e.g. ``user.profile.*``)
    model_config = ConfigDict(extra="allow", populate_by_name=True, validate_assignment=True)


class UserContext(_ContextModel):
    """``user.*``: who launches."""

    idep: str = Field(description="User name (Onyxia's idep), e.g. `bob`.")
    name: str = Field(description='Display name: "<familyName> <firstName>", else first name, else idep.')
    email: str = Field(default="", description="E-mail address.")
    password: str | None = Field(default=None, description="The project's service password (= project.password).")
    ip: str = Field(default="127.0.0.1", description='Client IP ("0.0.0.0" when personal infos are not injected).')
    darkMode: bool = Field(default=False, description="The user's UI dark mode.")
    lang: Language = Field(default="en", description="The user's UI language.")
    decodedIdToken: dict[str, Any] = Field(default_factory=dict, description="The decoded OIDC ID token.")
    accessToken: str | None = Field(default=None, description="OIDC access token.")
    refreshToken: str | None = Field(default=None, description="OIDC refresh token.")
    profile: dict[str, Any] | None = Field(default=None, description="Declarative user-profile values.")


class ProjectContext(_ContextModel):
    """``project.*``: where the service runs."""

    id: str = Field(description="Project id: `user-<idep>` (personal) or `projet-<group>`.")
    password: str = Field(description="The project's service password, shared by its services.")
    basic: str = Field(description='base64("<project.id>:<project.password>").')

    @classmethod
    def of(cls, project_id: str, password: str) -> ProjectContext:
        """A project context with ``basic`` computed as Onyxia does."""
        basic = base64.b64encode(f"{project_id}:{password}".encode()).decode("ascii")
        return cls(id=project_id, password=password, basic=basic)


class ServiceContext(_ContextModel):
    """``service.*``: generated for each launch."""

    oneTimePassword: str = Field(description="Random password generated for this launch.")


class S3Context(_ContextModel):
    """``s3.*``: the selected S3 profile (absent when the user has none)."""

    profileName: str | None = Field(default=None, description="S3 profile name (`default` preferred).")
    AWS_ACCESS_KEY_ID: str | None = Field(default=None, description="Access key id (temporary).")
    AWS_SECRET_ACCESS_KEY: str | None = Field(default=None, description="Secret access key.")
    AWS_SESSION_TOKEN: str | None = Field(default=None, description="Session token of temporary credentials.")
    AWS_DEFAULT_REGION: str = Field(default="us-east-1", description="S3 region.")
    AWS_S3_ENDPOINT: str = Field(description="S3 endpoint host (and port), without scheme.")
    port: int = Field(default=443, description="S3 endpoint port.")
    pathStyleAccess: bool = Field(default=True, description="Path-style (true, MinIO) or virtual-host requests.")
    isAnonymous: bool = Field(default=False, description="No credentials: the keys are empty strings.")
    enabled: bool = Field(
        default=True,
        description="Sardonyx's addition, always true: the region has S3. A chart's `s3.enabled` can default to "
        "it (`overwriteDefaultWith: '{{s3.enabled}}'`, default false) and so be on exactly where there is S3.",
    )


class VaultContext(_ContextModel):
    """``vault.*`` (absent when the region has no Vault)."""

    VAULT_ADDR: str = Field(description="Vault URL.")
    VAULT_TOKEN: str | None = Field(default=None, description="Vault token of the user.")
    VAULT_MOUNT: str = Field(description="KV v2 engine mount (region `vault.kvEngine`).")
    VAULT_TOP_DIR: str = Field(description="The project's top directory in the engine.")
    enabled: bool = Field(
        default=True,
        description="Sardonyx's addition, always true: the region has Vault. A chart's `vault.enabled` can "
        "default to it (`overwriteDefaultWith: '{{vault.enabled}}'`, default false) and so be on exactly where "
        "there is Vault (Onyxia's context has no such key: there the chart's default applies).",
    )


class GitContext(_ContextModel):
    """``git.*``: the user's Git identity (account page)."""

    name: str = Field(default="", description="Git user name.")
    email: str = Field(default="", description="Git user e-mail.")
    credentials_cache_duration: int = Field(default=0, description="Credential cache duration, in seconds.")
    token: str | None = Field(default=None, description="Personal access token (GitHub/GitLab).")


class IstioContext(_ContextModel):
    enabled: bool = False
    gateways: list[str] = Field(default_factory=list)


class K8sContext(_ContextModel):
    """``k8s.*``: exposure settings of the region, and the random part of this launch's host names."""

    domain: str = Field(description="Base domain of service URLs (region `services.expose.domain`).")
    ingressClassName: str | None = Field(default=None, description="Ingress class.")
    ingress: bool | None = Field(default=True, description="Services are exposed through Ingresses.")
    route: bool | None = Field(default=False, description="Services are exposed through OpenShift Routes.")
    istio: IstioContext | None = Field(default=None, description="Istio exposure.")
    randomSubdomain: str = Field(description="Random number 0..999999 (as text), unique to this launch.")
    initScriptUrl: str = Field(default="", description="Region init script URL.")
    useCertManager: bool = Field(default=False, description="Ingress certificates from cert-manager.")
    certManagerClusterIssuer: str | None = Field(default=None, description="cert-manager cluster issuer.")


class RegionResources(_ContextModel):
    cpuRequest: str | None = None
    cpuLimit: str | None = None
    memoryRequest: str | None = None
    memoryLimit: str | None = None
    disk: str | None = None
    gpu: str | None = None


class RegionSlider(_ContextModel):
    sliderMin: float
    sliderMax: float
    sliderStep: float
    sliderUnit: str


class KafkaContext(_ContextModel):
    url: str
    topicName: str


class OpenshiftSCCContext(_ContextModel):
    scc: str
    enabled: bool


class RegionContext(_ContextModel):
    """``region.*``: region defaults. Most are unset with today's onyxia-api (ONYXIA-REFERENCE 2, 11.2),
    so charts fall back to their defaults."""

    defaultIpProtection: bool | None = None
    defaultNetworkPolicy: bool | None = None
    allowedURIPattern: str = "^https://"
    customValues: dict[str, Any] = Field(default_factory=dict)
    kafka: KafkaContext | None = None
    tolerations: list[Any] | None = None
    from_: list[Any] | None = Field(default=None, alias="from")
    nodeSelector: dict[str, Any] | None = None
    startupProbe: dict[str, Any] | None = None
    sliders: dict[str, RegionSlider] = Field(default_factory=dict)
    resources: RegionResources | None = None
    openshiftSCC: OpenshiftSCCContext | None = None


class ProxyInjectionContext(_ContextModel):
    enabled: bool | None = None
    httpProxyUrl: str | None = None
    httpsProxyUrl: str | None = None
    noProxy: str | None = None


class PackageRepositoryInjectionContext(_ContextModel):
    cranProxyUrl: str | None = None
    condaProxyUrl: str | None = None
    packageManagerUrl: str | None = None
    pypiProxyUrl: str | None = None


class CertificateAuthorityInjectionContext(_ContextModel):
    cacerts: str | None = None
    pathToCaBundle: str | None = None


class LaunchContext(_ContextModel):
    """Everything ``x-onyxia`` expressions may refer to, for one launch (Onyxia's ``XOnyxiaContext``).

    Build it with the platform's real values, or ``local_default()`` / ``from_file()``; pass ``to_dict()`` (or
    the model itself) to values computation.
    """

    user: UserContext
    project: ProjectContext
    service: ServiceContext
    s3: S3Context | None = None
    vault: VaultContext | None = None
    git: GitContext = Field(default_factory=GitContext)
    k8s: K8sContext
    region: RegionContext = Field(default_factory=RegionContext)
    proxyInjection: ProxyInjectionContext | None = None
    packageRepositoryInjection: PackageRepositoryInjectionContext | None = None
    certificateAuthorityInjection: CertificateAuthorityInjectionContext | None = None

    def to_dict(self) -> dict[str, Any]:
        """The dict expressions resolve against: Onyxia key names, unset (None) keys left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    @classmethod
    def local_default(
        cls,
        *,
        login: str | None = None,
        domain: str = "localhost",
        project_id: str | None = None,
        project_password: str | None = None,
        s3: S3Context | None = None,
    ) -> LaunchContext:
        """A context for one launch on this machine, for the CLI ``values`` command and tests.

        The login comes from the OS (made a valid RFC 1123 label), the project is ``user-<login>``; the
        service one-time password and project password are random (24 letters and digits), the random
        subdomain a number 0..999999 as Onyxia draws it. No S3 or Vault unless given.
        """
        idep = rfc1123_label(login if login is not None else _os_login())
        project = project_id or f"user-{idep}"
        project_pw = project_password or random_password()
        return cls(
            user=UserContext(
                idep=idep,
                name=_os_full_name(idep) if login is None else idep,
                email=f"{idep}@localhost",
                password=project_pw,
                decodedIdToken={"preferred_username": idep},
            ),
            project=ProjectContext.of(project, project_pw),
            service=ServiceContext(oneTimePassword=random_password()),
            s3=s3,
            git=GitContext(name=idep, email=f"{idep}@localhost"),
            k8s=K8sContext(domain=domain, ingressClassName="", randomSubdomain=random_subdomain()),
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, base: LaunchContext | None = None) -> LaunchContext:
        """Validate ``data`` (Onyxia key names), deep-merged over ``base`` (default: ``local_default()``).

        A key set to null in ``data`` removes it (e.g. ``s3: null``).

        Raises:
            BadRequest: invalid keys or types (every violation listed with its dotted path).
        """
        merged = _deep_merge((base or cls.local_default()).to_dict(), data)
        try:
            return cls.model_validate(merged)
        except ValidationError as error:
            violations = [
                Violation(".".join(str(p) for p in problem["loc"]), problem["msg"]) for problem in error.errors()
            ]
            raise BadRequest("invalid launch context", violations=violations) from error

    @classmethod
    def from_file(cls, path: Path, *, base: LaunchContext | None = None) -> LaunchContext:
        """Read a YAML (or JSON) context file, deep-merged over ``base`` (default: ``local_default()``).

        Raises:
            BadRequest: unreadable file, not a YAML mapping, or invalid keys (every violation listed).
        """
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise BadRequest(f"cannot read the launch context {path}: {error.strerror}") from error
        except yaml.YAMLError as error:
            raise BadRequest(f"the launch context {path} is not valid YAML: {error}") from error
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise BadRequest(f"the launch context {path} must be a YAML mapping")
        return cls.from_mapping(data, base=base)


def _deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_ALPHANUMERIC = string.ascii_letters + string.digits


def random_password(length: int = 24) -> str:
    """A random password of letters and digits (safe in URLs, YAML and shells)."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def random_subdomain() -> str:
    """Onyxia's ``k8s.randomSubdomain``: a random integer in [0, 999999], as text."""
    return str(secrets.randbelow(1_000_000))


_ONE_TIME_PASSWORD = re.compile(r"[A-Za-z0-9]{16,128}")
_SUBDOMAIN = re.compile(r"[0-9]{1,6}")


def is_one_time_password(text: str | None) -> TypeGuard[str]:
    """True for a usable ``service.oneTimePassword`` handed back by a launcher session: 16 to 128 letters
    and digits (what ``random_password`` draws; safe in URLs, YAML and shells)."""
    return text is not None and _ONE_TIME_PASSWORD.fullmatch(text) is not None


def is_random_subdomain(text: str | None) -> TypeGuard[str]:
    """True for a ``k8s.randomSubdomain`` as Onyxia draws it: 1 to 6 digits."""
    return text is not None and _SUBDOMAIN.fullmatch(text) is not None


def rfc1123_label(text: str) -> str:
    """``text`` made a valid RFC 1123 label: lower case, other characters to ``-``, at most 63 characters."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")
    return label or "user"


def _os_login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return os.environ.get("USER", "user")


def _os_full_name(default: str) -> str:
    try:
        gecos = pwd.getpwuid(os.getuid()).pw_gecos.split(",")[0].strip()
    except (KeyError, OSError):
        gecos = ""
    return gecos or default
