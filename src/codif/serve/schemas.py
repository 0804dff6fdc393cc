"""What the model API accepts and answers (pydantic models published in its OpenAPI schema).

Validation rules of the side fields are Insee's (``codif-ape-API@63ef07f:app/``, CODIF-APE-REFERENCE.md section
5.1): form type (``type_form``, liasse type) in A, B, C, D, E, G, I, L, M, N, P, R, S, X, Y, Z; ``nature`` two
digits; ``surface`` the surface class 1-4 (1: under 121 m2 or unknown, 2: 121-400, 3: 401-2,500, 4: over
2,500); ``event`` two digits and one of A, P, M, F (``01P``); ``cj``, the legal category, four digits (the
2025 API's rule). Spaces and tabs around values are stripped; an empty value means "unknown"; type and event
are upper-cased. The description must hold at least one letter of the Latin alphabet (an empty one is refused,
as by Insee's API; one without any letter cannot be coded by a model of words).

Limits, documented here and in the schema: a description holds at most :data:`MAX_DESCRIPTION_CHARS`
characters (longer ones are refused, never cut: the real Sirene descriptions we have are at most 400
characters); a batch holds at most :data:`MAX_BATCH_FORMS` forms; ``nb_echos_max`` is 1 to
:data:`MAX_ECHOS`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict

from codif.forms import Form

MAX_DESCRIPTION_CHARS = 1000
"""Longest accepted description, in characters (after stripping surrounding blanks)."""
MAX_BATCH_FORMS = 2000
"""Most forms in one ``POST /predict``."""
MAX_ECHOS = 20
"""Most candidates asked for one form (``nb_echos_max``)."""

FORM_TYPES = "ABCDEGILMNPRSXYZ"
_NATURE = re.compile(r"[0-9]{2}")
_SURFACE = re.compile(r"[1-4]")
_EVENT = re.compile(r"[0-9]{2}[APMFapmf]")
_CJ = re.compile(r"[0-9]{4}")


_BLANKS = " \t"
"""What surrounds a value and is stripped: spaces and tabs (the same in the published patterns)."""
_LETTER = re.compile("[A-Za-zÀ-ÖØ-öø-ɏ]")
"""A letter of the Latin alphabet, accented ones included (Latin-1 and Latin Extended-A/B: é, œ, ŝ...)."""


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip(_BLANKS)
        return value or None
    return value


def _check_description(value: str) -> str:
    # the limit applies to the text as sent, so that what the schema says (maxLength) is what is enforced
    if len(value) > MAX_DESCRIPTION_CHARS:
        raise ValueError(
            f"the description is {len(value)} characters long, more than the limit of {MAX_DESCRIPTION_CHARS}: "
            "it is refused, not cut; send a shorter description"
        )
    value = value.strip()
    if not value:
        raise ValueError("the description is empty: send the activity description to code")
    if _LETTER.search(value) is None:
        raise ValueError("the description has no letter: send the activity description in words")
    return value


def _check_type_form(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) != 1 or value.upper() not in FORM_TYPES or not value.isascii():
        raise ValueError(f"type_form must be one of {', '.join(FORM_TYPES)} (Insee's form types), got {value!r}")
    return value.upper()


def _pattern_check(name: str, pattern: re.Pattern[str], rule: str, upper: bool = False) -> Any:
    def check(value: str | None) -> str | None:
        if value is None:
            return None
        if pattern.fullmatch(value) is None:
            raise ValueError(f"{name} must be {rule}, got {value!r}")
        return value.upper() if upper else value

    return check


Description = Annotated[
    str,
    Strict(),
    AfterValidator(_check_description),
    Field(
        description="Free-text activity description of the form (required, with at least one letter, at most "
        f"{MAX_DESCRIPTION_CHARS} characters).",
        json_schema_extra={"minLength": 1, "maxLength": MAX_DESCRIPTION_CHARS, "pattern": _LETTER.pattern},
        examples=["BOULANGERIE PATISSERIE"],
    ),
]
TypeForm = Annotated[
    str | None,
    BeforeValidator(_blank_to_none),
    AfterValidator(_check_type_form),
    Field(
        default=None,
        description="Form (liasse) type, one of " + ", ".join(FORM_TYPES) + "; empty or absent: unknown.",
        json_schema_extra={"pattern": rf"^[ \t]*([{FORM_TYPES}{FORM_TYPES.lower()}])?[ \t]*$"},
        examples=["X"],
    ),
]
Nature = Annotated[
    str | None,
    BeforeValidator(_blank_to_none),
    AfterValidator(_pattern_check("nature", _NATURE, "two digits (activity nature, e.g. 14)")),
    Field(
        default=None,
        description="Activity nature, two digits; empty or absent: unknown.",
        json_schema_extra={"pattern": r"^[ \t]*([0-9]{2})?[ \t]*$"},
        examples=["14"],
    ),
]
Surface = Annotated[
    str | None,
    BeforeValidator(_blank_to_none),
    AfterValidator(_pattern_check("surface", _SURFACE, "a surface class from 1 to 4")),
    Field(
        default=None,
        description="Surface class: 1 under 121 m2 or unknown, 2 from 121 to 400, 3 from 401 to 2,500, 4 over "
        "2,500; empty or absent: unknown.",
        json_schema_extra={"pattern": r"^[ \t]*([1-4])?[ \t]*$"},
        examples=["1"],
    ),
]
Event = Annotated[
    str | None,
    BeforeValidator(_blank_to_none),
    AfterValidator(_pattern_check("event", _EVENT, "two digits then A, P, M or F (e.g. 01P)", upper=True)),
    Field(
        default=None,
        description="Event type: two digits then A, P, M or F (e.g. 01P, creation by a natural person); "
        "empty or absent: unknown.",
        json_schema_extra={"pattern": r"^[ \t]*([0-9]{2}[APMFapmf])?[ \t]*$"},
        examples=["01P"],
    ),
]
LegalCategory = Annotated[
    str | None,
    BeforeValidator(_blank_to_none),
    AfterValidator(_pattern_check("cj", _CJ, "four digits (legal category, e.g. 5710)")),
    Field(
        default=None,
        description="Legal category (catégorie juridique), four digits; empty or absent: unknown.",
        json_schema_extra={"pattern": r"^[ \t]*([0-9]{4})?[ \t]*$"},
        examples=["5710"],
    ),
]


class FormIn(BaseModel):
    """One form to code: the description and Insee's side fields (all optional)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    description: Description
    type_form: TypeForm = None
    nature: Nature = None
    surface: Surface = None
    event: Event = None
    cj: LegalCategory = None

    def to_form(self) -> Form:
        return Form(self.description, self.type_form, self.nature, self.surface, self.event, self.cj)


class PredictParams(BaseModel):
    """How many candidates to return and the lowest probability worth returning."""

    nb_echos_max: int = Field(
        default=5, ge=1, le=MAX_ECHOS, description=f"Most candidates returned per form (1 to {MAX_ECHOS})."
    )
    prob_min: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="Candidates under this probability are not returned; above the model's best probability a "
        "form gets no candidate and a message saying that probability.",
    )


class SingleQuery(FormIn, PredictParams):
    """Query string of ``GET /predict``: one form and the answer's parameters."""


class BatchIn(BaseModel):
    """Body of ``POST /predict``."""

    model_config = ConfigDict(extra="forbid")

    forms: list[FormIn] = Field(
        min_length=1, max_length=MAX_BATCH_FORMS, description=f"1 to {MAX_BATCH_FORMS} forms, coded in order."
    )


class CandidateOut(BaseModel):
    """One proposed NAF rév. 2 subclass."""

    code: str = Field(description="Subclass code, 5 characters (e.g. 1071C).")
    label: str = Field(description="French label of the subclass (NAF rév. 2).")
    probability: float = Field(description="Model probability, 0 to 1.")


class PredictionOut(BaseModel):
    """The answer for one form."""

    candidates: list[CandidateOut] = Field(
        description="Best subclasses first; at most nb_echos_max, none under prob_min."
    )
    ic: float = Field(
        description="Confidence index IC = p1 - p2 from the model's two best probabilities (Insee's production "
        "API), whatever nb_echos_max and prob_min; Sirene codes automatically when IC is high enough."
    )
    message: str | None = Field(
        default=None,
        description="Present when no candidate reaches prob_min (candidates is then empty): says the model's "
        "best probability, to lower prob_min or send the form to manual coding.",
    )


class ModelInfo(BaseModel):
    """Which model answered."""

    name: str = Field(description="Registered model name (or the model directory for a local model).")
    version: str = Field(description="Registry version of the model that answered.")


class SingleOut(PredictionOut):
    """Answer of ``GET /predict``."""

    request_id: str = Field(description="Identifier of the request, also in the business logs and X-Request-ID.")
    model: ModelInfo


class BatchOut(BaseModel):
    """Answer of ``POST /predict``: one prediction per form, in the order sent."""

    request_id: str = Field(description="Identifier of the request, also in the business logs and X-Request-ID.")
    model: ModelInfo
    predictions: list[PredictionOut]


class Problem(BaseModel):
    """An error, as RFC 7807 problem details."""

    type: str
    title: str
    status: int
    detail: str
    violations: list[dict[str, str]] | None = Field(
        default=None, description="Every invalid field: `path` (e.g. `forms[3].type_form`) and `reason`."
    )
