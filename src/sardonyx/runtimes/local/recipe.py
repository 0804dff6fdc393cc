"""The recipe: how the local runtime runs a chart (``recipe.yaml`` beside ``Chart.yaml``).

The format is documented in ``catalogs/builtin/README.md``. ``parse_recipe`` validates a raw mapping with
pydantic and reports every violation at once (``InvalidRecipe``); ``Renderer`` renders its templates and
expressions with a sandboxed Jinja2 environment where an undefined variable is an error. The command is an
argument list: each string item renders to exactly one argument, so no value can inject another argument,
let alone a shell command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sardonyx.errors import BadRequest, Violation

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER = re.compile(r"^[A-Za-z0-9-]+$")


class InvalidRecipe(BadRequest):
    """A chart's recipe does not follow the recipe format, or one of its templates cannot be rendered."""

    reason = "invalid-recipe"
    title = "Invalid recipe"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommandGroup(_Model):
    """A command item that is not a single argument: ``args`` included when ``when`` is truthy, or ``each``
    element of a list value as one argument."""

    when: str | None = Field(default=None, description="Expression; the group is skipped when it is falsy.")
    args: list[str] | None = Field(default=None, description="Argument templates, one argument each.")
    each: str | None = Field(default=None, description="Expression giving a list; each element is one argument.")

    @model_validator(mode="after")
    def _one_of_args_each(self) -> CommandGroup:
        if (self.args is None) == (self.each is None):
            raise ValueError("a command group needs exactly one of 'args' or 'each'")
        return self


class EnvironmentRecipe(_Model):
    """A Python virtual environment built with uv, content-addressed by interpreter and requirements."""

    python: str | None = Field(
        default=None, description="Interpreter request for `uv venv --python`; default: the platform's own."
    )
    requirements: list[str] = Field(default_factory=list, description="PEP 508 requirement templates.")
    requirements_from: str | None = Field(
        default=None, description="Expression giving a list of extra requirement strings (e.g. from the values)."
    )
    project_extras: list[str] | None = Field(
        default=None, description="Install this Sardonyx checkout (editable) with these extras."
    )


class PortRecipe(_Model):
    name: str = Field(description="Identifier used as `ports.<name>` in templates.")
    pin: str | None = Field(
        default=None, description="Expression; a non-empty value requires exactly that port (PortInUse if taken)."
    )

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not _IDENTIFIER.match(name):
            raise ValueError(f"{name!r} is not an identifier (letters, digits, '_')")
        return name


class HttpProbe(_Model):
    path: str = Field(default="/", description="Template of the path probed with GET; renders to '/...'.")
    port: str | None = Field(default=None, description="Name of the port to probe; default: the first port.")
    status: list[int] = Field(default_factory=lambda: [200], description="HTTP statuses that mean ready.")
    headers: dict[str, str] = Field(default_factory=dict, description="Header templates sent with the probe.")

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not path.startswith(("/", "{{")) or any(c in path for c in "\r\n"):
            raise ValueError("must start with '/' (or be a template) and contain no line break")
        return path

    @field_validator("headers")
    @classmethod
    def _header_names(cls, headers: dict[str, str]) -> dict[str, str]:
        bad = [name for name in headers if not _HEADER.match(name)]
        if bad:
            raise ValueError(f"invalid header names: {', '.join(map(repr, bad))}")
        return headers


class Readiness(_Model):
    http: HttpProbe | None = Field(default=None, description="HTTP probe; without it, 'process alive' is used.")
    timeout_seconds: float = Field(default=60.0, gt=0, description="Time allowed to become ready.")
    interval_seconds: float = Field(default=0.05, gt=0, description="Time between two probes.")
    settle_seconds: float = Field(
        default=1.0, ge=0, description="Without an HTTP probe: how long the process must stay alive."
    )


class Discovery(_Model):
    kind: str = Field(description="What the service is for its siblings (Onyxia's `onyxia/discovery` kind).")
    env: dict[str, str] = Field(description="Variable name -> value template, published while running.")

    @field_validator("env")
    @classmethod
    def _names(cls, env: dict[str, str]) -> dict[str, str]:
        return _check_env_names(env)


class Recipe(_Model):
    """A parsed, validated ``recipe.yaml`` (see ``catalogs/builtin/README.md``)."""

    kind: Literal["service", "job"] = "service"
    environment: EnvironmentRecipe | None = None
    command: list[str | CommandGroup] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict)
    workdir: str | None = None
    ports: list[PortRecipe] = Field(default_factory=list)
    readiness: Readiness = Field(default_factory=Readiness)
    url: str | None = None
    discovery: Discovery | None = None
    stop_grace_seconds: float = Field(default=10.0, ge=0)

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        return _check_env_names(env)

    @field_validator("files")
    @classmethod
    def _relative_files(cls, files: dict[str, str]) -> dict[str, str]:
        for name in files:
            if "{{" not in name and not is_safe_relative_path(name):
                raise ValueError(f"{name!r} must be a relative path inside the service directory")
        return files

    @model_validator(mode="after")
    def _ports_consistent(self) -> Recipe:
        names = [p.name for p in self.ports]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"port names must be unique (repeated: {', '.join(duplicates)})")
        probe = self.readiness.http
        if probe is not None:
            if not self.ports:
                raise ValueError("an HTTP readiness probe needs at least one port")
            if probe.port is not None and probe.port not in names:
                raise ValueError(f"readiness.http.port {probe.port!r} is not one of the ports ({', '.join(names)})")
        return self

    @property
    def is_job(self) -> bool:
        return self.kind == "job"


def _check_env_names(env: Mapping[str, str]) -> dict[str, str]:
    bad = [name for name in env if not ENV_NAME.match(name)]
    if bad:
        raise ValueError(f"invalid environment variable names: {', '.join(map(repr, bad))}")
    return dict(env)


def is_safe_relative_path(name: str) -> bool:
    """True for a non-empty relative POSIX path with no ``..`` part and no NUL (stays inside its base)."""
    if not name or "\x00" in name or "\\" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and name not in {".", ""}


def parse_recipe(raw: Mapping[str, Any] | None, *, chart: str = "chart") -> Recipe:
    """Validate a raw recipe mapping (as read from ``recipe.yaml``).

    Raises:
        InvalidRecipe: no recipe, or one violation per problem (paths like ``recipe.command[2].args``).
    """
    if raw is None:
        raise InvalidRecipe(f"Chart {chart!r} has no local recipe (recipe.yaml): it cannot run on this machine.")
    try:
        return Recipe.model_validate(dict(raw))
    except ValidationError as error:
        violations = [Violation(_loc("recipe", e["loc"]), e["msg"]) for e in error.errors()]
        raise InvalidRecipe(f"The recipe of chart {chart!r} is invalid.", violations=violations) from None


def _loc(prefix: str, loc: Sequence[int | str]) -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in {"str", "CommandGroup"} or part.startswith("function-"):
            continue  # pydantic's union branch labels say nothing to a chart author
        else:
            text += f".{part}"
    return text


class Renderer:
    """Renders a recipe's templates and expressions against one context (sandboxed Jinja2, strict undefined).

    Collects every rendering problem as a ``Violation`` (``errors``) instead of stopping at the first, so a
    caller can report all of them at once with ``raise_errors``.
    """

    def __init__(self, context: Mapping[str, Any]) -> None:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        self._jinja = ImmutableSandboxedEnvironment(
            undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        self.context = dict(context)
        self.errors: list[Violation] = []

    def text(self, template: str, where: str) -> str:
        """Render a template to a string ('' and an error recorded when it fails)."""
        try:
            result = self._jinja.from_string(template).render(self.context)
        except Exception as error:  # any Jinja failure is a recipe problem
            self.errors.append(Violation(where, _jinja_message(error)))
            return ""
        if "\x00" in result:
            self.errors.append(Violation(where, "renders to a string containing a NUL character"))
            return ""
        return result

    def expression(self, source: str, where: str) -> Any:
        """Evaluate an expression (None and an error recorded when it fails)."""
        try:
            return self._jinja.compile_expression(source, undefined_to_none=False)(self.context)
        except Exception as error:
            self.errors.append(Violation(where, _jinja_message(error)))
            return None

    def command(self, items: Sequence[str | CommandGroup]) -> list[str]:
        """The argument list of a recipe command."""
        argv: list[str] = []
        for index, item in enumerate(items):
            where = f"recipe.command[{index}]"
            if isinstance(item, str):
                argv.append(self.text(item, where))
                continue
            if item.when is not None and not self._truthy(item.when, f"{where}.when"):
                continue
            if item.args is not None:
                argv.extend(self.text(arg, f"{where}.args[{n}]") for n, arg in enumerate(item.args))
            elif item.each is not None:
                argv.extend(self.string_list(item.each, f"{where}.each"))
        return argv

    def string_list(self, source: str, where: str) -> list[str]:
        """An expression that must give a list of scalars (None or '' gives []), as strings."""
        value = self.expression(source, where)
        if value is None or value == "":
            return []
        if isinstance(value, str) or not isinstance(value, Sequence):
            self.errors.append(Violation(where, f"must give a list, got {type(value).__name__}"))
            return []
        result: list[str] = []
        for element in value:
            if isinstance(element, bool | int | float | str):
                text = str(element)
                if "\x00" in text:
                    self.errors.append(Violation(where, "an element contains a NUL character"))
                    continue
                result.append(text)
            else:
                self.errors.append(
                    Violation(where, f"elements must be strings or numbers, got {type(element).__name__}")
                )
        return result

    def mapping(self, templates: Mapping[str, str], where: str) -> dict[str, str]:
        return {name: self.text(template, f"{where}.{name}") for name, template in templates.items()}

    def raise_errors(self, message: str) -> None:
        """Raise ``InvalidRecipe`` with every recorded problem, if any."""
        if self.errors:
            raise InvalidRecipe(message, violations=self.errors)

    def _truthy(self, source: str, where: str) -> bool:
        return bool(self.expression(source, where))


def _jinja_message(error: Exception) -> str:
    return f"cannot be rendered: {error}"
