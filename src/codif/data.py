"""The training corpus: NAF text written by INSEE and the one-stop shop, plus expert-labelled real forms.

Every row is ``text`` (raw, the model cleans it), the side fields ``type_form nature surface event cj`` (None when
unknown: nomenclature text has none), ``label`` (canonical subclass ``4791A``), ``source``, ``weight``, ``group``
(normalised text: near-duplicates share it) and ``fold`` (0..n-1 for expert rows, -1 otherwise). Sources:

- ``label``: the subclass labels at all lengths (full, 65 and 40 characters);
- ``comprend`` / ``comprend_aussi``: the lines and bullets of INSEE's explanatory notes;
- ``exclusion``: the "ne comprend pas ... (cf. CODE)" lines, pointed at the single referenced subclass;
- ``product``: CPF product titles and contents, where the subclass is unambiguous (the product is listed under one
  subclass's "produits associés", or its NAF class has a single subclass);
- ``guichet``: the one-stop shop's activity labels and keyword lists for the activities compatible with one code;
- ``expert``: rows of expert CSVs (``gold_dev.csv`` columns), unclassifiable ``XXXXX`` rows left out.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from codif.errors import CodifDataError, MissingDataError
from codif.forms import Form
from codif.nomenclature import UNCLASSIFIABLE, Nomenclature, compact
from codif.paths import CPF_CSV, GUICHET_CSV, NOTES_CSV, data_file
from codif.text import (
    group_key,
    normalize_cj,
    normalize_event,
    normalize_nature,
    normalize_surface,
    normalize_type_form,
    words,
)
from sardonyx.errors import Violation

if TYPE_CHECKING:
    import pandas as pd

SIDE_FIELDS: Final = ("type_form", "nature", "surface", "event", "cj")
CORPUS_COLUMNS: Final = ("text", *SIDE_FIELDS, "label", "source", "weight", "group", "fold")

SOURCE_WEIGHTS: Final[dict[str, float]] = {
    "label": 1.0,
    "comprend": 1.0,
    "comprend_aussi": 1.0,
    "exclusion": 1.0,
    "product": 0.5,
    "guichet": 1.0,
    "expert": 1.0,
}
"""Default weight of a row per source (products are numerous and far from how forms are written)."""

# Column names accepted for each field of an expert file: gold_dev.csv, Insee's API examples, Insee's test YAML.
COLUMN_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "text": ("text", "text_description", "description", "libelle", "LIB_SICORE"),
    "type_form": ("liasse_type", "type_form", "type_", "AUTO"),
    "nature": ("activ_nat_et", "nature", "NAT_SICORE"),
    "surface": ("activ_surf_et", "surface", "SURF"),
    "event": ("evenement_type", "event", "EVT_SICORE"),
    "cj": ("cj",),
    "label": ("label_majority", "code", "label", "apet_manual", "Target"),
}

_CF: Final = re.compile(r"\(\s*cf\.?\s*([^)]*)\)", re.IGNORECASE)
_NAF_REF: Final = re.compile(r"\d{2}\.\d{2}[A-Z]|\d{2}\.\d{2}|\d{2}\.\d\b")
_CPF_CODE: Final = re.compile(r"(\d{2}\.\d{2}\.\d{1,2})(p?)")
_BULLET: Final = re.compile("^\\s*[\u2022\\-\u2013*]\\s*")  # bullet, hyphen, en dash


@dataclass(frozen=True)
class LabelledForms:
    """Forms read from an expert file, with their expert codes (canonical, or ``XXXXX``) and source rows."""

    forms: tuple[Form, ...]
    labels: tuple[str, ...]
    rows: tuple[int, ...]
    """1-based row number in the file (header excluded) of each form"""

    def __len__(self) -> int:
        return len(self.forms)


def _has_text(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def read_labelled_forms(path: Path | str, nomenclature: Nomenclature, *, require_label: bool = True) -> LabelledForms:
    """Read an expert CSV: the columns of ``gold_dev.csv`` (or Insee's API / test YAML names, see COLUMN_ALIASES).

    Side fields are normalised (nature on 2 digits, surface m² -> Insee's class 1-4...); unknown values are None.

    Raises:
        MissingDataError: the file does not exist.
        CodifDataError: the text (or label) column is missing, a description is empty or has no letter, or a code
            is not a NAF rév. 2 subclass nor ``XXXXX``; every offending row is named.
    """
    import pandas as pd

    source = Path(path)
    if not source.is_file():
        raise MissingDataError(f"expert file not found: {source}")
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise CodifDataError(f"{source} is not a readable CSV file: {error}") from error
    columns: dict[str, str | None] = {
        field: next((name for name in aliases if name in frame.columns), None)
        for field, aliases in COLUMN_ALIASES.items()
    }
    needed = ["text", "label"] if require_label else ["text"]
    missing = [
        Violation(field, f"column missing: expected one of {', '.join(COLUMN_ALIASES[field])}")
        for field in needed
        if columns[field] is None
    ]
    if missing:
        raise CodifDataError(f"{source}: required columns are missing", violations=missing)

    def column(field: str) -> list[str]:
        name = columns[field]
        return [str(v) for v in frame[name]] if name is not None else [""] * len(frame)

    texts = column("text")
    problems = [
        Violation(
            f"{source.name} row {number}", f"description: {'empty' if not text.strip() else 'no letter in'} {text!r}"
        )
        for number, text in enumerate(texts, start=1)
        if not _has_text(text)
    ]
    labels: list[str] = []
    if require_label:
        for number, raw in enumerate(column("label"), start=1):
            code = compact(raw)
            if code != UNCLASSIFIABLE and nomenclature.try_normalize(code, "subclass") is None:
                problems.append(Violation(f"{source.name} row {number}", f"code {raw!r} is not a NAF rév. 2 subclass"))
            labels.append(code)
    else:
        labels = [""] * len(texts)
    if problems:
        raise CodifDataError(f"{source}: {len(problems)} invalid row(s)", violations=problems)
    sides = {field: column(field) for field in SIDE_FIELDS}
    forms = tuple(
        Form(
            description=texts[i],
            type_form=normalize_type_form(sides["type_form"][i]),
            nature=normalize_nature(sides["nature"][i]),
            surface=normalize_surface(sides["surface"][i]),
            event=normalize_event(sides["event"][i]),
            cj=normalize_cj(sides["cj"][i]),
        )
        for i in range(len(texts))
    )
    return LabelledForms(forms=forms, labels=tuple(labels), rows=tuple(range(1, len(texts) + 1)))


# -- nomenclature corpus -------------------------------------------------------------------------------------------


@dataclass
class _Rows:
    rows: list[dict[str, object]]

    def add(self, text: str, label: str, source: str) -> None:
        text = _BULLET.sub("", text).strip().rstrip(":;,. ").strip()
        if _has_text(text) and words(text):
            self.rows.append({"text": text, "label": label, "source": source})


def _label_rows(nomenclature: Nomenclature, out: _Rows, frame: pd.DataFrame) -> None:
    for _, row in frame.iterrows():
        code = nomenclature.normalize(row["subclass"], "subclass")
        texts = dict.fromkeys(
            str(row[col]).strip() for col in ("label_subclass", "label_subclass_65", "label_subclass_40")
        )
        for text in texts:
            out.add(text, code, "label")


def _single_subclass(nomenclature: Nomenclature, reference: str) -> str | None:
    """The subclass a "cf." reference designates: a subclass, or a class/group with a single subclass."""
    code = nomenclature.try_normalize(reference)
    if code is None:
        return None
    children = nomenclature.children(code)
    return children[0] if len(children) == 1 else None


def _note_rows(nomenclature: Nomenclature, out: _Rows, notes: pd.DataFrame) -> None:
    for _, row in notes.iterrows():
        code = nomenclature.normalize(row["subclass"], "subclass")
        for column in ("comprend", "comprend_aussi"):
            for line in str(row[column]).splitlines():
                out.add(line.replace("telles que", " ").replace("tels que", " "), code, column)
        for line in str(row["ne_comprend_pas"]).splitlines():
            match = _CF.search(line)
            if not match:
                continue
            references = _NAF_REF.findall(match.group(1))
            targets = {_single_subclass(nomenclature, ref) for ref in references}
            found = {target for target in targets if target is not None}
            if len(targets) == 1 and len(found) == 1 and code not in found:
                out.add(_CF.sub(" ", line), found.pop(), "exclusion")


def _product_rows(nomenclature: Nomenclature, out: _Rows, notes: pd.DataFrame, products: pd.DataFrame) -> None:
    listed: dict[str, set[str]] = defaultdict(set)
    for _, row in notes.iterrows():
        for product, _partial in _CPF_CODE.findall(str(row["produits_associes"])):
            listed[product].add(nomenclature.normalize(row["subclass"], "subclass"))
    for _, row in products.iterrows():
        product = str(row["cpf_code"])
        under = {sub for code, subs in listed.items() if code.startswith(product) for sub in subs}
        if len(under) != 1:
            single = _single_subclass(nomenclature, str(row["naf_class"]))
            under = {single} if single and not under - {single} else set()
        if len(under) == 1:
            (code,) = under
            out.add(str(row["title"]), code, "product")
            for line in str(row["content"]).splitlines():
                out.add(line, code, "product")


def _split_keywords(value: str) -> list[str]:
    return [kw.strip() for kw in re.split(r"[,;/]", value) if kw.strip()]


def _guichet_rows(nomenclature: Nomenclature, out: _Rows, guichet: pd.DataFrame) -> None:
    for _, row in guichet.iterrows():
        codes = [c for c in str(row["ape_compatibles"]).split("|") if c.strip()]
        if len(codes) != 1:
            continue
        code = nomenclature.try_normalize(codes[0], "subclass")
        if code is None:  # the file has a few dirty values (461XX, doublon, 0117Z)
            continue
        levels = [str(row[col]).strip() for col in ("niv3", "niv4") if str(row[col]).strip()]
        if levels:
            out.add(" ".join(levels), code, "guichet")
        specific = _split_keywords(str(row["mots_specifiques"]))
        if specific:
            out.add(", ".join(specific), code, "guichet")
            for keyword in specific:
                out.add(f"{keyword} {levels[-1] if levels else ''}", code, "guichet")


def nomenclature_corpus(nomenclature: Nomenclature, data_dir: Path | str | None = None) -> pd.DataFrame:
    """The weakly supervised corpus from INSEE's and the one-stop shop's text (no expert row), deduplicated.

    Returns a DataFrame with CORPUS_COLUMNS; duplicates (same cleaned text, same label) are kept once.

    Raises:
        MissingDataError: a source file is missing.
    """
    import pandas as pd

    def read(relative: str) -> pd.DataFrame:
        return pd.read_csv(data_file(relative, data_dir), dtype=str, keep_default_na=False)

    from codif.paths import NAF_CSV

    out = _Rows([])
    _label_rows(nomenclature, out, read(NAF_CSV))
    notes = read(NOTES_CSV)
    _note_rows(nomenclature, out, notes)
    _product_rows(nomenclature, out, notes, read(CPF_CSV))
    _guichet_rows(nomenclature, out, read(GUICHET_CSV))
    frame = pd.DataFrame(out.rows)
    frame["group"] = [group_key(t) for t in frame["text"]]
    frame = frame.drop_duplicates(subset=["group", "label"], keep="first")
    return _finish(frame)


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    for field in SIDE_FIELDS:
        if field not in frame:
            frame[field] = None
    if "weight" not in frame:
        frame["weight"] = [SOURCE_WEIGHTS[s] for s in frame["source"]]
    if "fold" not in frame:
        frame["fold"] = -1
    frame = frame[list(CORPUS_COLUMNS)].reset_index(drop=True)
    frame["weight"] = frame["weight"].astype("float64")
    frame["fold"] = frame["fold"].astype("int64")
    for field in SIDE_FIELDS:
        frame[field] = frame[field].astype("string")
    return frame


def expert_corpus(expert: LabelledForms, *, folds: int = 5, seed: int = 0, name: str = "expert") -> pd.DataFrame:
    """Expert rows as corpus rows (``XXXXX`` left out) with folds by normalised text.

    Folds come from scikit-learn's ``StratifiedGroupKFold`` on the :func:`codif.text.group_key` of each text:
    near-duplicate descriptions always share a fold, and labels are spread across folds as evenly as the groups
    allow.
    """
    import pandas as pd

    keep = [i for i, label in enumerate(expert.labels) if label != UNCLASSIFIABLE]
    frame = pd.DataFrame(
        {
            "text": [expert.forms[i].description for i in keep],
            **{field: [getattr(expert.forms[i], field) for i in keep] for field in SIDE_FIELDS},
            "label": [expert.labels[i] for i in keep],
            "source": name,
            "weight": SOURCE_WEIGHTS["expert"],
            "group": [group_key(expert.forms[i].description) for i in keep],
        }
    )
    frame["fold"] = assign_folds(list(frame["group"]), list(frame["label"]), folds=folds, seed=seed)
    return _finish(frame)


def assign_folds(groups: Sequence[str], labels: Sequence[str], *, folds: int = 5, seed: int = 0) -> list[int]:
    """Fold number (0..folds-1) of every row, rows of one group always together.

    scikit-learn's ``StratifiedGroupKFold`` (labels spread evenly across folds) when the data allows it; for tiny
    files where no label has ``folds`` members, each group goes to the fold its SHA-1 digest picks.
    """
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold

    def by_hash() -> list[int]:
        return [
            int(hashlib.sha1(f"{seed}:{g}".encode(), usedforsecurity=False).hexdigest(), 16) % folds for g in groups
        ]

    if len(set(groups)) < folds:
        return by_hash()
    assignment = [0] * len(groups)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    try:
        with warnings.catch_warnings():
            # "The least populated class in y has only 1 members": expected with 700 classes and ~1,000 rows.
            warnings.simplefilter("ignore", UserWarning)
            for fold, (_, test) in enumerate(splitter.split(list(range(len(groups))), list(labels), list(groups))):
                for i in test:
                    assignment[i] = fold
    except ValueError:  # every label has fewer members than folds
        return by_hash()
    return assignment


def build_corpus(
    nomenclature: Nomenclature,
    experts: Iterable[Path | str] = (),
    *,
    data_dir: Path | str | None = None,
    folds: int = 5,
) -> pd.DataFrame:
    """The full corpus: :func:`nomenclature_corpus` plus every expert file (``source`` = ``expert``)."""
    import pandas as pd

    parts = [nomenclature_corpus(nomenclature, data_dir)]
    for path in experts:
        parts.append(expert_corpus(read_labelled_forms(path, nomenclature), folds=folds))
    return _finish(pd.concat(parts, ignore_index=True))


def corpus_hash(frame: pd.DataFrame) -> str:
    """SHA-256 (hex, first 16 characters) of the corpus content: the data version logged with every run."""
    payload = frame[list(CORPUS_COLUMNS)].to_csv(index=False).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()[:16]


def write_corpus(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write the corpus as Parquet (``path``'s folder is created) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(target, index=False)
    return target


def read_corpus(path: Path | str) -> pd.DataFrame:
    """Read a corpus written by :func:`write_corpus`, checking its columns.

    Raises:
        MissingDataError: no file at ``path``.
        CodifDataError: a column is missing.
    """
    import pandas as pd

    source = Path(path)
    if not source.is_file():
        raise MissingDataError(f"corpus not found: {source} (build it with `codif data build`)")
    frame = pd.read_parquet(source)
    missing = [Violation(col, "column missing") for col in CORPUS_COLUMNS if col not in frame.columns]
    if missing:
        raise CodifDataError(f"{source} is not a codif corpus", violations=missing)
    return _finish(frame)


def corpus_forms(frame: pd.DataFrame) -> list[Form]:
    """The corpus rows as :class:`Form` objects (None for unknown side fields)."""
    sides = {field: [None if v is pd_na() or v is None else str(v) for v in frame[field]] for field in SIDE_FIELDS}
    return [
        Form(str(text), **{field: sides[field][i] for field in SIDE_FIELDS}) for i, text in enumerate(frame["text"])
    ]


def pd_na() -> object:
    import pandas as pd

    return pd.NA
