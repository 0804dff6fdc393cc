"""``sardonyx catalog list|show`` and ``sardonyx values``: browse catalogs and compute a chart's values.

When the platform of these settings runs, they ask it (``GET /my-lab/catalogs``, a ``PUT /my-lab/app`` dry run):
the same catalogs, charts, restrictions and values as the REST API and the web UI, whatever this shell exports.
``--catalog`` takes the id of one of its catalogs, or a path or URL read directly, offline (a Helm repository
serving ``index.yaml``, or a folder of chart folders). When no platform runs (and for ``values --context``,
``--role`` and ``--chart-defaults``, which the REST API does not take), the catalogs of these settings are read
here, with the same restrictions for this machine's user, and the command says so.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sardonyx.cli import HELP_STYLE, app
from sardonyx.errors import CatalogError

if TYPE_CHECKING:
    from sardonyx.catalog.context import LaunchContext
    from sardonyx.catalog.form import FormNode
    from sardonyx.catalog.model import ChartVersion
    from sardonyx.catalog.service import CatalogService

# the catalog engine (jsonschema, httpx, pydantic models) is imported by the commands that use it, so that
# `sardonyx --help` and the other faces' commands start fast

catalog_app = typer.Typer(help="Browse the catalogs of charts.", no_args_is_help=True, rich_markup_mode=HELP_STYLE)
app.add_typer(catalog_app, name="catalog")

CatalogOption = Annotated[
    str | None,
    typer.Option(
        "--catalog",
        "-c",
        help="Catalog id, or a path or URL of a Helm repository or of a folder of charts.",
        show_default=False,
    ),
]
VersionOption = Annotated[
    str | None, typer.Option("--version", "-v", help="Chart version (default: newest non pre-release).")
]
RoleOption = Annotated[
    list[str] | None, typer.Option("--role", help="User role, for per-role schema overlays (repeatable).")
]


def _is_location(catalog: str | None) -> bool:
    """True when ``--catalog`` is a path or URL (read offline) rather than a catalog id."""
    if catalog is None:
        return False
    return "://" in catalog or "/" in catalog or catalog.startswith(".") or Path(catalog).exists()


def _platform_client() -> Any:
    """A client of the running platform of these settings, None when none runs (its lock is not held)."""
    from sardonyx.cli.platform import running_state
    from sardonyx.client import PlatformClient
    from sardonyx.settings import Settings

    settings = Settings()
    state = running_state(settings)
    if state is None:
        return None
    return PlatformClient(state.get("url", settings.api_url))


def _offline_note(reason: str) -> None:
    Console(stderr=True, highlight=False).print(f"[dim]{escape(reason)}: the catalogs of this shell's settings[/]")


def _service(catalog: str | None) -> CatalogService:
    from sardonyx.catalog.service import CatalogService, catalog_configs_for
    from sardonyx.settings import Settings

    # problems are printed by the commands themselves, once, in sentences
    logging.getLogger("sardonyx.catalog").setLevel(logging.ERROR)
    settings = Settings()
    if catalog is None:
        service = CatalogService.from_settings(settings)
    else:
        service = CatalogService.from_settings(settings, catalogs=catalog_configs_for(catalog, settings))
    service.load()
    return service


def _split(chart: str, catalog: str | None) -> tuple[str, str | None]:
    """``CATALOG/CHART`` (Helm's ``<repo>/<chart>``) names the catalog when ``--catalog`` does not."""
    if catalog is None and "/" in chart:
        catalog_id, _, name = chart.partition("/")
        return name, catalog_id
    return chart, catalog


def _chart(service: CatalogService, catalog: str | None, chart: str, version: str | None) -> ChartVersion:
    if catalog is None:
        return service.find_chart(chart, version)
    state = service.states()[0]
    return service.chart_version(state.id, chart, version)


def local_context() -> LaunchContext:
    """The launch context the platform of these settings would give, without asking it: this machine's user
    and personal project, and its S3 (the embedded server's endpoint, or the external one) with placeholder
    keys (``<AWS_ACCESS_KEY_ID>``: nothing is issued), so that ``values`` and ``catalog show`` compute what a
    launch would."""
    from sardonyx.catalog.context import LaunchContext, S3Context
    from sardonyx.settings import Settings
    from sardonyx.storage.credentials import S3Credentials

    settings = Settings()
    context = LaunchContext.local_default(login=settings.login, domain=settings.region.expose.domain)
    s3 = settings.s3
    endpoint = f"http://127.0.0.1:{s3.ports.s3}" if s3.embedded else (s3.endpoint or "").rstrip("/")
    if endpoint:
        placeholder = S3Credentials(
            "<AWS_ACCESS_KEY_ID>",
            "<AWS_SECRET_ACCESS_KEY>",
            endpoint,
            context.project.id,
            s3.region,
            path_style_access=s3.path_style_access,
        )
        data = placeholder.launch_context()
        if endpoint.startswith("http://"):  # as the service layer gives a plain-HTTP endpoint: with its scheme
            data["AWS_S3_ENDPOINT"] = endpoint
        context.s3 = S3Context(**data)
    return context


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@catalog_app.command("list")
def list_charts(catalog: CatalogOption = None) -> None:
    """List the catalogs and their charts (newest version of each, highlighted charts first)."""
    if not _is_location(catalog):
        client = _platform_client()
        if client is not None:
            with client:
                _list_remote(client.request("GET", "/my-lab/catalogs").json()["catalogs"], catalog)
            return
        _offline_note("Sardonyx is not running")
    service = _service(catalog)
    console = Console()
    failed: list[str] = []
    for state in service.states():
        config = state.config
        where = f"[dim]{config.status.value}  {escape(config.location)}[/]"
        console.print(f"[bold]{escape(config.id)}[/] — {escape(config.display_name)}  {where}", soft_wrap=True)
        if state.error:
            console.print(f"  [red]cannot be read:[/] {escape(state.error)}")
            failed.append(config.id)
        if state.catalog is None:
            console.print()
            continue
        charts = state.catalog.latest_charts()
        if not charts:
            console.print("  [dim](no charts)[/]")
        else:
            table = Table(box=None, padding=(0, 2), show_edge=False, expand=True)
            names = [f"  {c.name}{' ★' if c.name in config.highlighted_charts else ''}" for c in charts]
            table.add_column("chart", no_wrap=True, min_width=max(len(n) for n in names))
            table.add_column("version", no_wrap=True, min_width=max(7, *(len(c.version) for c in charts)))
            # one line per chart, cut to the terminal's width (`catalog show` has the whole description)
            table.add_column("description", no_wrap=True, overflow="ellipsis", ratio=1)
            highlighted = set(config.highlighted_charts)
            for chart in charts:
                mark = " ★" if chart.name in highlighted else ""
                description = " ".join(chart.description.split())
                table.add_row(f"  {escape(chart.name)}{mark}", escape(chart.version), escape(description))
            console.print(table)
        for problem in state.catalog.problems:
            console.print(f"  [yellow]warning:[/] {escape(problem)}")
        console.print()
    if failed:
        raise CatalogError(f"{len(failed)} catalog(s) could not be read: {', '.join(failed)}")


def _list_remote(catalogs: list[dict[str, Any]], only: str | None) -> None:
    """``catalog list`` from ``GET /my-lab/catalogs`` (the catalogs this user sees, in the platform's order)."""
    from sardonyx.errors import NotFound

    if only is not None:
        catalogs = [c for c in catalogs if c.get("id") == only]
        if not catalogs:
            raise NotFound(f"no catalog {only!r} (see `sardonyx catalog list`)")
    console = Console()
    failed: list[str] = []
    for wrapper in catalogs:
        name = wrapper.get("name")
        display = name.get("en") or next(iter(name.values()), wrapper["id"]) if isinstance(name, dict) else name
        where = f"[dim]{escape(str(wrapper.get('status', '')))}  {escape(str(wrapper.get('location', '')))}[/]"
        console.print(f"[bold]{escape(wrapper['id'])}[/] — {escape(str(display or wrapper['id']))}  {where}",
                      soft_wrap=True)  # fmt: skip
        if wrapper.get("error"):
            console.print(f"  [red]cannot be read:[/] {escape(str(wrapper['error']))}")
            failed.append(wrapper["id"])
        packages = list(((wrapper.get("catalog") or {}).get("latestPackages") or {}).values())
        if wrapper.get("catalog") is not None and not packages:
            console.print("  [dim](no charts)[/]")
        elif packages:
            highlighted = set(wrapper.get("highlightedCharts") or [])
            table = Table(box=None, padding=(0, 2), show_edge=False, expand=True)
            names = [f"  {p['name']}{' ★' if p['name'] in highlighted else ''}" for p in packages]
            table.add_column("chart", no_wrap=True, min_width=max(len(n) for n in names))
            table.add_column("version", no_wrap=True, min_width=max(7, *(len(str(p["version"])) for p in packages)))
            table.add_column("description", no_wrap=True, overflow="ellipsis", ratio=1)
            for package, label in zip(packages, names, strict=True):
                description = " ".join(str(package.get("description") or "").split())
                table.add_row(escape(label), escape(str(package["version"])), escape(description))
            console.print(table)
        console.print()
    if failed:
        raise CatalogError(f"{len(failed)} catalog(s) could not be read: {', '.join(failed)}")


def _remote_preview(client: Any, chart: str, catalog: str | None, version: str | None,
                    set_options: list[str], *, reveal: bool = False) -> dict[str, Any]:  # fmt: skip
    """The platform's dry run of a launch: which catalog and version it resolves to, and the values."""
    body = client.launch_body(chart, catalog_id=catalog, version=version, set_options=set_options, dry_run=True,
                              reveal=reveal)  # fmt: skip
    result: dict[str, Any] = client.request("PUT", "/my-lab/app", json=body).json()
    return result


def _resolve_on_platform(
    chart: str, catalog: str | None, version: str | None
) -> tuple[CatalogService, str, str | None]:
    """The catalog the running platform resolves ``chart`` to (its order, its restrictions: a chart this user
    cannot see is not found), loaded here from the location the platform gives; ``(service, catalog id,
    version)``. When ``catalog`` is a location, or no platform runs, the catalogs of these settings."""
    from sardonyx.catalog import CatalogConfig, CatalogService
    from sardonyx.settings import Settings

    client = None if _is_location(catalog) else _platform_client()
    if client is None:
        if not _is_location(catalog):
            _offline_note("Sardonyx is not running")
        service = _service(catalog)
        found = _chart(service, catalog, chart, version)
        return service, found.catalog_id, version
    with client:
        preview = _remote_preview(client, chart, catalog, version, [])
        wrappers = client.request("GET", "/my-lab/catalogs").json()["catalogs"]
    wrapper = next(w for w in wrappers if w["id"] == preview["catalogId"])
    config = CatalogConfig.model_validate({k: v for k, v in wrapper.items() if k not in {"catalog", "error"}})
    logging.getLogger("sardonyx.catalog").setLevel(logging.ERROR)
    service = CatalogService.from_settings(Settings(), catalogs=[config])
    service.load()
    return service, config.id, str(preview["packageVersion"])


def _visibility(node: FormNode) -> str:
    from sardonyx.catalog.form import HiddenCondition
    from sardonyx.catalog.jsonvalues import compact_json, format_path

    if node.hidden is True:
        return "hidden"
    if isinstance(node.hidden, HiddenCondition):
        rule = f"hidden if {format_path(node.hidden.target)} = {compact_json(node.hidden.value)}"
        return f"{rule} (so now)" if node.hidden_now else rule
    return "shown"


def _shown(value: Any, widget: str) -> str:
    from sardonyx.catalog.jsonvalues import compact_json

    if value is None:
        return ""
    if widget == "password" and value:
        return "•" * 8
    text = value if isinstance(value, str) else compact_json(value)
    return _short(text, 48)


def _kind(node: FormNode) -> str:
    if node.widget == "rangeSlider" and node.range is not None:
        unit = node.range.unit or ""
        return f"range {node.range.low.min:g}-{node.range.low.max:g}{unit}"
    if node.widget == "slider" and node.slider is not None:
        return f"slider {node.slider.min:g}-{node.slider.max:g}{node.slider.unit or ''}"
    if node.widget == "select" and node.options is not None:
        return f"select ({len(node.options)} options)"
    return node.widget if node.type in (None, node.widget) else f"{node.type} ({node.widget})"


@catalog_app.command("show")
def show_chart(
    chart: Annotated[str, typer.Argument(help="Chart name, or CATALOG/CHART.")],
    *,
    version: VersionOption = None,
    catalog: CatalogOption = None,
    role: RoleOption = None,
) -> None:
    """Show a chart: versions, description, and the launch form's fields (type, default, visibility)."""
    from sardonyx.catalog.form import build_form

    chart, catalog = _split(chart, catalog)
    service, catalog_id, version = _resolve_on_platform(chart, catalog, version)
    chart_version = service.chart_version(catalog_id, chart, version)
    console = Console()
    versions = service.versions(chart_version.catalog_id, chart_version.name)
    default = service.catalog(chart_version.catalog_id).default_version(chart_version.name).version
    title = f"[bold]{escape(chart_version.name)}[/] {escape(chart_version.version)}"
    console.print(f"{title}  [dim]catalog {escape(chart_version.catalog_id)}[/]")
    if chart_version.description:
        console.print(escape(chart_version.description))
    listed = ", ".join(f"{v.version} (default)" if v.version == default else v.version for v in versions)
    console.print(f"versions: {escape(listed)}")
    for label, value in (("home", chart_version.home), ("sources", ", ".join(chart_version.sources))):
        if value:
            console.print(f"{label}: {escape(value)}")
    if chart_version.keywords:
        console.print(f"keywords: {escape(', '.join(chart_version.keywords))}")
    if chart_version.directory is not None:
        console.print(f"[dim]folder: {escape(str(chart_version.directory))}[/]")
    computed = service.compute_values(chart_version, local_context(), roles=role or ())
    schema = computed.schema.schema if computed.schema is not None else None
    form = build_form(chart_version, schema, computed.values, defaults=computed.defaults, context=computed.context)
    if schema is None:
        console.print("[yellow]This chart has no values.schema.json: values.yaml alone defines its values.[/]")
    for section, nodes in form.sections():
        table = Table(title=f"form: {section}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        fields = [node.path_text for top in nodes for node in top.walk() if node.kind != "group"]
        table.add_column("field", no_wrap=True, min_width=min(40, max((len(f) for f in fields), default=5)))
        table.add_column("title", max_width=24)
        table.add_column("kind", max_width=22)
        table.add_column("default", overflow="fold", max_width=24)
        table.add_column("visibility")
        for top in nodes:
            for node in top.walk():
                if node.kind == "group":
                    continue
                flags = " (read-only)" if node.readonly else ""
                table.add_row(
                    escape(node.path_text),
                    escape(_short(node.title, 32)),
                    escape(_kind(node)) + flags,
                    escape(_shown(node.default, node.widget)),
                    escape(_visibility(node)),
                )
        console.print(table)


@app.command("values")
def show_values(
    chart: Annotated[str, typer.Argument(help="Chart name, or CATALOG/CHART.")],
    *,
    version: VersionOption = None,
    catalog: CatalogOption = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a value: PATH=VALUE (dots, [0] list indexes, \\. for a dot in a key)."),
    ] = None,
    context: Annotated[
        Path | None,
        typer.Option("--context", help="Launch context (YAML, Onyxia keys), merged over a local default context."),
    ] = None,
    role: RoleOption = None,
    chart_defaults: Annotated[
        bool, typer.Option("--chart-defaults", help="Merge values.yaml under the result (what templates see).")
    ] = False,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Show secrets (passwords, tokens, keys) in clear; masked by default.")
    ] = False,
) -> None:
    """Print the values of a launch as YAML, as the platform would compute them.

    Schema defaults from the launch context (this machine's user, project and S3 with placeholder keys, or
    --context), then the --set overrides, validated against the chart's resolved schema (every violation listed).
    """
    from sardonyx.catalog.commands import values_yaml
    from sardonyx.catalog.context import LaunchContext
    from sardonyx.catalog.overrides import parse_set_options
    from sardonyx.masking import mask_values

    chart, catalog = _split(chart, catalog)
    overrides = parse_set_options(set_ or [])
    local_only = context is not None or bool(role) or chart_defaults
    if not _is_location(catalog) and not local_only:
        client = _platform_client()
        if client is not None:
            with client:
                preview = _remote_preview(client, chart, catalog, version, list(set_ or []), reveal=reveal)
            typer.echo(values_yaml(preview["values"]), nl=False)
            return
        _offline_note("Sardonyx is not running")
    elif local_only and not _is_location(catalog):
        _offline_note("--context, --role and --chart-defaults are computed here")
    launch_context = LaunchContext.from_file(context, base=local_context()) if context is not None else local_context()
    service = _service(catalog)
    chart_version = _chart(service, catalog, chart, version)
    computed = service.compute_values(chart_version, launch_context, overrides, roles=role or ())
    values = computed.helm_values() if chart_defaults else computed.values
    typer.echo(values_yaml(values if reveal else mask_values(values)), nl=False)
