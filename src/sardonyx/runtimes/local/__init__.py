"""The local runtime: services as supervised process groups on this machine (see ``runtime.py``).

Public API: ``LocalRuntime``; the recipe format (``Recipe``, ``parse_recipe``, ``InvalidRecipe``); the
environment cache (``EnvironmentCache``); the library-chart variables (``library_env``); ``JsonDirStateStore``.
"""

from sardonyx.runtimes.local.environments import EnvironmentBuildFailed, EnvironmentCache, EnvironmentRequest
from sardonyx.runtimes.local.envvars import extra_env, library_env
from sardonyx.runtimes.local.recipe import InvalidRecipe, Recipe, parse_recipe
from sardonyx.runtimes.local.runtime import LocalRuntime, default_envs_dir
from sardonyx.runtimes.local.state import JsonDirStateStore

__all__ = [
    "EnvironmentBuildFailed",
    "EnvironmentCache",
    "EnvironmentRequest",
    "InvalidRecipe",
    "JsonDirStateStore",
    "LocalRuntime",
    "Recipe",
    "default_envs_dir",
    "extra_env",
    "library_env",
    "parse_recipe",
]
