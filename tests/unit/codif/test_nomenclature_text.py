"""The nomenclature object and the text cleaning."""

from __future__ import annotations

from pathlib import Path

import pytest

from codif.errors import CodifDataError, UnknownCodeError
from codif.forms import Form
from codif.nomenclature import Nomenclature, compact, shape_level
from codif.text import (
    clean_text,
    form_text,
    group_key,
    normalize_event,
    normalize_nature,
    normalize_surface,
    normalize_type_form,
    side_tokens,
)


def test_codes_in_any_spelling_normalise_to_the_compact_form(nomenclature: Nomenclature) -> None:
    assert nomenclature.normalize("47.91A") == "4791A"
    assert nomenclature.normalize(" 4791a ") == "4791A"
    assert nomenclature.normalize("47.9") == "479"
    assert nomenclature.normalize("g") == "G"
    assert nomenclature.dotted("4791A") == "47.91A"
    assert nomenclature.dotted("479") == "47.9"
    assert nomenclature.dotted("47") == "47"
    assert compact("10.71 c") == "1071C"
    assert shape_level("1071") == "class"


def test_parents_at_every_level(nomenclature: Nomenclature) -> None:
    assert nomenclature.parents("10.71C") == {
        "section": "C",
        "division": "10",
        "group": "107",
        "class": "1071",
        "subclass": "1071C",
    }
    assert nomenclature.parent("4791B", "group") == "479"
    assert nomenclature.children("4791") == ("4791A", "4791B")
    assert nomenclature.children("L") == ("6820A", "6820B")
    assert nomenclature.level_of("68.20") == "class"
    assert nomenclature.label("6820A") == "Location de logements"
    assert len(nomenclature) == 7


def test_unknown_codes_are_refused_with_the_code_named(nomenclature: Nomenclature) -> None:
    with pytest.raises(UnknownCodeError, match="9999Z"):
        nomenclature.normalize("9999Z")
    with pytest.raises(UnknownCodeError, match="subclass"):
        nomenclature.normalize("4791", "subclass")
    assert nomenclature.try_normalize("nonsense") is None
    problems = nomenclature.invalid_codes(["4791A", "XXXXX", "12345", "47.91"], allow_unclassifiable=True)
    assert [p.path for p in problems] == ["row 3", "row 4"]


def test_a_malformed_table_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "naf.csv"
    path.write_text("subclass,label_subclass\n01.11Z,Culture\n", encoding="utf-8")
    with pytest.raises(CodifDataError) as caught:
        Nomenclature.load(path)
    assert {v.path for v in caught.value.violations} >= {"class", "section", "label_section"}


def test_cleaning_follows_insee_recipe() -> None:
    # the example of Insee's slides (codif-ape-prez, unece-conf 2-Methodo.qmd)
    assert clean_text("3 D: La Dératisation - La Désinsectisation - La Désinfection") == (
        "deratis desinsectis desinfect"
    )
    assert clean_text("BOULANGER PATISSIER") == "boulang patissi"
    assert clean_text("Vente en ligne, e-commerce") == "vent lign ecommerc"
    assert clean_text("idem kbis, code APE 4791A") == ""
    assert clean_text("pain pain PAIN") == "pain"
    assert clean_text("Bar sans alcool, hors domicile") == "bar san alcool hor domicil"


def test_near_duplicates_share_a_group_key() -> None:
    assert group_key("Agent commercial en immobilier") == group_key("agent commercial immobilier !")
    assert group_key("immobilier agent commercial") == group_key("Agent commercial immobilier")
    assert group_key("Boulangerie") != group_key("Pâtisserie")


def test_side_fields_are_normalised_as_insee_does() -> None:
    assert normalize_type_form("c") == "C"
    assert normalize_type_form("Q") is None
    assert normalize_nature("4") == "04"
    assert normalize_nature("10.0") == "10"
    assert normalize_nature("abc") is None
    assert normalize_surface("3") == "3"
    assert normalize_surface("30.0") == "1"  # m² -> class 1 (< 120 m²)
    assert normalize_surface("450.0") == "3"
    assert normalize_surface("2500") == "4"
    assert normalize_surface("nan") is None
    assert normalize_event("01p") == "01P"
    assert normalize_event("1P") is None
    tokens = side_tokens(Form("x", type_form="M", nature="14", surface="30.0", event="01P", cj="5710"))
    assert tokens == ["TYP_M", "NAT_14", "SRF_1", "EVT_01P", "CJ_5710", "CJ1_5"]
    assert side_tokens(Form("x")) == []


def test_form_text_keeps_only_known_side_tokens() -> None:
    form = Form("Boulangerie", type_form="C", event="01P")
    assert form_text(form) == "boulanger TYP_C EVT_01P"
    assert form_text(form, vocabulary={"TYP_C"}) == "boulanger TYP_C"
