"""The catalog engine: Onyxia-dialect chart catalogs, schema resolution, launch context and values.

Everything that computes launch values goes through this package (``CatalogService.compute_values``).
Public API (see each module for details):

- ``CatalogService`` (``service``): catalogs from ``Settings``, loading, background refresh, visibility,
  charts and versions, resolved schemas, values.
- ``CatalogConfig`` / ``load_catalog_configs`` (``config``): Onyxia's catalog configuration.
- ``Catalog`` / ``ChartVersion`` (``model``): what a loaded catalog holds.
- ``SchemaRegistry`` / ``ResolvedSchema`` / ``resolve_schema`` (``schemas``).
- ``LaunchContext`` (``context``): the x-onyxia context.
- ``Override`` / ``parse_set_options`` / ``parse_launch_url`` (``overrides``), ``ComputedValues`` /
  ``compute_values`` (``compute``), ``compute_default_values`` (``values``).
- ``build_form`` / ``FormDescription`` (``form``): the launcher form description.
- ``helm_commands`` / ``sardonyx_launch_command`` / ``default_release_name`` / name validators (``commands``).
- ``catalog_wrapper_json`` and friends (``onyxia``): Onyxia-compatible JSON shapes.
- ``package_chart`` / ``write_repository_index`` (``packaging``): ``helm package`` + ``helm repo index``.
"""

from sardonyx.catalog.commands import (
    default_release_name,
    helm_commands,
    sardonyx_launch_command,
    validate_label,
    validate_release_name,
    values_yaml,
)
from sardonyx.catalog.compute import ComputedValues, compute_values, validate_values, value_changes
from sardonyx.catalog.config import (
    CatalogConfig,
    CatalogConfigError,
    CatalogStatus,
    MultipleServicesMode,
    adhoc_catalog_config,
    load_catalog_configs,
    localized,
    parse_catalog_configs,
)
from sardonyx.catalog.context import (
    GitContext,
    K8sContext,
    LaunchContext,
    ProjectContext,
    RegionContext,
    S3Context,
    ServiceContext,
    UserContext,
    VaultContext,
)
from sardonyx.catalog.form import FormDescription, FormNode, HiddenCondition, build_form
from sardonyx.catalog.jsonvalues import MISSING, ValuesPath, format_path
from sardonyx.catalog.loader import load_catalog, select_entries
from sardonyx.catalog.model import Catalog, ChartDependency, ChartVersion
from sardonyx.catalog.onyxia import (
    catalog_wrapper_json,
    catalogs_json,
    chart_entry_json,
    chart_versions_json,
    resolved_schema_json,
)
from sardonyx.catalog.overrides import (
    LaunchUrlParameters,
    Override,
    apply_overrides,
    parse_launch_url,
    parse_set_options,
    parse_values_path,
)
from sardonyx.catalog.packaging import package_chart, write_repository_index
from sardonyx.catalog.schemas import ResolvedSchema, SchemaRegistry, resolve_schema
from sardonyx.catalog.service import (
    BUILTIN_CATALOG_ID,
    CatalogService,
    CatalogState,
    LaunchCommands,
    builtin_catalog_config,
    catalog_configs_for,
    is_visible_to,
)
from sardonyx.catalog.values import compute_default_values, merge_chart_defaults, resolve_options

__all__ = [
    "BUILTIN_CATALOG_ID",
    "MISSING",
    "Catalog",
    "CatalogConfig",
    "CatalogConfigError",
    "CatalogService",
    "CatalogState",
    "CatalogStatus",
    "ChartDependency",
    "ChartVersion",
    "ComputedValues",
    "FormDescription",
    "FormNode",
    "GitContext",
    "HiddenCondition",
    "K8sContext",
    "LaunchCommands",
    "LaunchContext",
    "LaunchUrlParameters",
    "MultipleServicesMode",
    "Override",
    "ProjectContext",
    "RegionContext",
    "ResolvedSchema",
    "S3Context",
    "SchemaRegistry",
    "ServiceContext",
    "UserContext",
    "ValuesPath",
    "VaultContext",
    "adhoc_catalog_config",
    "apply_overrides",
    "build_form",
    "builtin_catalog_config",
    "catalog_configs_for",
    "catalog_wrapper_json",
    "catalogs_json",
    "chart_entry_json",
    "chart_versions_json",
    "compute_default_values",
    "compute_values",
    "default_release_name",
    "format_path",
    "helm_commands",
    "is_visible_to",
    "load_catalog",
    "load_catalog_configs",
    "localized",
    "merge_chart_defaults",
    "package_chart",
    "parse_catalog_configs",
    "parse_launch_url",
    "parse_set_options",
    "parse_values_path",
    "resolve_options",
    "resolve_schema",
    "resolved_schema_json",
    "sardonyx_launch_command",
    "select_entries",
    "validate_label",
    "validate_release_name",
    "validate_values",
    "value_changes",
    "values_yaml",
    "write_repository_index",
]
