"""Where codif finds its data: ``../shared/data`` beside the repository unless told otherwise.

Priority: an explicit path (``--data-dir``), then the ``CODIF_DATA_DIR`` environment variable, then
``<repository>/../shared/data``. Data is read where it lies, never copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

from codif.errors import MissingDataError

REPO_ROOT = Path(__file__).resolve().parents[2]
"""Root of a source checkout (``src/codif/paths.py`` -> repository)."""

DATA_DIR_ENV = "CODIF_DATA_DIR"

NAF_CSV = "nomenclature/naf2008/naf2008_5levels_fr.csv"
NOTES_CSV = "notes_explicatives/naf2008_notes_subclass_tidy.csv"
CPF_CSV = "notes_explicatives/cpf_rev2_1_products_tidy.csv"
GUICHET_CSV = "weak_labels/guichet_activities_to_ape_tidy.csv"
GOLD_CSV = "labeled/gold_dev.csv"
INSEE_TESTS_CSV = "insee_reference/samples/tests_yaml_codif-ape-train.csv"
SIRENE_EXAMPLES_CSV = "labeled/sirene_examples_50.csv"


def data_dir(explicit: Path | str | None = None) -> Path:
    """The data folder: ``explicit``, else ``$CODIF_DATA_DIR``, else ``<repository>/../shared/data``.

    Raises:
        MissingDataError: the folder does not exist (the message names the setting that chose it).
    """
    if explicit is not None:
        chosen, origin = Path(explicit), "--data-dir"
    elif os.environ.get(DATA_DIR_ENV):
        chosen, origin = Path(os.environ[DATA_DIR_ENV]), DATA_DIR_ENV
    else:
        chosen, origin = REPO_ROOT.parent / "shared" / "data", "the default (../shared/data)"
    if not chosen.is_dir():
        raise MissingDataError(f"the codif data folder {chosen} does not exist (chosen by {origin})")
    return chosen.resolve()


def data_file(relative: str, root: Path | str | None = None) -> Path:
    """``relative`` inside :func:`data_dir`; raises :class:`MissingDataError` when the file is absent."""
    path = data_dir(root) / relative
    if not path.is_file():
        raise MissingDataError(f"codif data file missing: {path}")
    return path
