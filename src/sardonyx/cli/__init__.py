"""The ``sardonyx`` command line (Typer).

Each face of the platform registers its commands from its own module below; every command calls the same
service layer as the REST API and web UI. Expected errors (``SardonyxError``) are printed as one message plus
one line per violation, with exit code 1 (2 for usage errors, as Typer does), never as a traceback.
"""

from __future__ import annotations

import sys
from typing import Final

import typer
from rich.console import Console

from sardonyx import __version__
from sardonyx.errors import ErrorReport, SardonyxError

HELP_STYLE: Final = "markdown"
"""How command help is rendered: Markdown, so that a docstring's paragraphs reflow to the terminal's width."""

app = typer.Typer(
    name="sardonyx",
    help="Sardonyx: launch data science services wired to S3, secrets and Git.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=HELP_STYLE,
)
err_console = Console(stderr=True)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command("settings")
def show_settings() -> None:
    """List every setting with its environment variable, default and description."""
    import textwrap

    from rich.markup import escape

    from sardonyx.settings import settings_table

    console = Console(highlight=False)
    for row in settings_table():
        default = "none" if row["default"] is None else str(row["default"])
        console.print(f"[bold]{escape(row['name'])}[/]  {escape(row['env'])}  [dim](default: {escape(default)})[/]")
        for line in textwrap.wrap(row["description"], width=max(40, console.width - 4)):
            console.print(f"    {escape(line)}", soft_wrap=True)
        console.print()


def main() -> None:
    """Console-script entry point: run the Typer app, rendering expected errors without a traceback; an invalid
    setting is one line naming it, its value and what is allowed, with exit status 2 (a usage error)."""
    try:
        app()
    except SardonyxError as error:
        report = ErrorReport.of(error)
        from rich.markup import escape

        # escaped: messages quote values such as [a, b], which Rich would take for markup
        err_console.print(f"[bold red]error:[/] {escape(report.message)}", highlight=False, soft_wrap=True)
        for line in report.lines:
            err_console.print(f"  - {escape(line)}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except Exception as error:
        from sardonyx.settings import is_settings_error, settings_error_lines

        if not is_settings_error(error):
            raise
        from rich.markup import escape

        for line in settings_error_lines(error):
            err_console.print(f"[bold red]error:[/] invalid setting {escape(line)}", highlight=False, soft_wrap=True)
        sys.exit(2)


# Faces register their commands on ``app`` when imported (one line each).
from sardonyx.cli import catalog as _catalog_commands  # noqa: E402, F401
from sardonyx.cli import envs as _environment_commands  # noqa: E402, F401
from sardonyx.cli import platform as _platform_commands  # noqa: E402, F401
from sardonyx.cli import services as _service_commands  # noqa: E402, F401
from sardonyx.cli import web as _web_commands  # noqa: E402, F401
