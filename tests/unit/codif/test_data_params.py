"""Corpus building, expert files (and their errors), folds, parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from codif.data import (
    CORPUS_COLUMNS,
    build_corpus,
    corpus_hash,
    nomenclature_corpus,
    read_corpus,
    read_labelled_forms,
    write_corpus,
)
from codif.errors import CodifDataError, InvalidParameter, MissingDataError
from codif.nomenclature import Nomenclature
from codif.params import ModelParams, parse_params
from codif.paths import data_dir as resolve_data_dir


def test_the_nomenclature_corpus_uses_every_source(nomenclature: Nomenclature, data_dir: Path) -> None:
    corpus = nomenclature_corpus(nomenclature, data_dir)
    assert list(corpus.columns) == list(CORPUS_COLUMNS)
    by_source = corpus.groupby("source")["text"].apply(list).to_dict()
    assert "Location de logements" in by_source["label"]
    assert "baguettes" in by_source["comprend"]  # a bullet of a "comprend" line
    assert "les viennoiseries" in by_source["comprend_aussi"]
    # "ne comprend pas ... (cf. 10.71D)" is an example of 10.71D, without the reference
    exclusions = corpus[corpus["source"] == "exclusion"]
    assert set(zip(exclusions["text"], exclusions["label"], strict=True)) == {
        ("la fabrication de gâteaux", "1071D"),
        ("la location de chambres meublées", "6820A"),
    }
    # products: listed under one subclass (10.71.11 -> 10.71C), or a class with one subclass (53.20 -> 53.20Z)
    product_rows = corpus[corpus["source"] == "product"]
    products = dict(zip(product_rows["text"], product_rows["label"], strict=True))
    assert products["Pain frais"] == "1071C"
    assert products["Services de livraison de colis"] == "5320Z"
    # guichet: only activities compatible with one code
    guichet = corpus[corpus["source"] == "guichet"]
    assert set(guichet["label"]) == {"4791B", "5320Z"}
    assert (corpus["fold"] == -1).all()
    assert corpus["type_form"].isna().all()


def test_expert_rows_are_added_with_folds_by_text(nomenclature: Nomenclature, data_dir: Path) -> None:
    corpus = build_corpus(nomenclature, [data_dir / "labeled/gold_dev.csv"], data_dir=data_dir, folds=3)
    expert = corpus[corpus["source"] == "expert"]
    assert len(expert) == 9  # the XXXXX row is left out
    assert "XXXXX" not in set(expert["label"])
    assert set(expert["fold"]) <= {0, 1, 2}
    # the two spellings of "Boulangerie artisanale" never straddle folds
    boulangerie = expert[expert["text"].str.lower().str.contains("boulangerie")]
    assert boulangerie["fold"].nunique() == 1
    assert expert.loc[expert["text"] == "boulangerie  artisanale !", "surface"].item() == "1"
    assert expert.loc[expert["text"] == "Boulangerie artisanale", "nature"].item() == "10"


def test_corpus_round_trip_and_hash(nomenclature: Nomenclature, data_dir: Path, tmp_path: Path) -> None:
    corpus = build_corpus(nomenclature, data_dir=data_dir)
    path = write_corpus(corpus, tmp_path / "out" / "corpus.parquet")
    again = read_corpus(path)
    assert corpus_hash(again) == corpus_hash(corpus)
    assert len(corpus_hash(corpus)) == 16
    changed = corpus.copy()
    changed.loc[0, "text"] = "autre chose"
    assert corpus_hash(changed) != corpus_hash(corpus)
    with pytest.raises(MissingDataError, match="codif data build"):
        read_corpus(tmp_path / "absent.parquet")


def test_expert_file_errors_name_every_row(nomenclature: Nomenclature, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "text,liasse_type,label_majority\n"
        "Boulangerie,C,1071C\n"
        ",C,1071C\n"
        "1234 !!,C,1071C\n"
        "Vente en ligne,C,9999Z\n"
        "Inclassable,X,XXXXX\n",
        encoding="utf-8",
    )
    with pytest.raises(CodifDataError) as caught:
        read_labelled_forms(path, nomenclature)
    lines = [f"{v.path}: {v.reason}" for v in caught.value.violations]
    assert any("row 2" in line and "empty" in line for line in lines)
    assert any("row 3" in line and "no letter" in line for line in lines)
    assert any("row 4" in line and "9999Z" in line for line in lines)
    assert len(lines) == 3


def test_expert_file_missing_columns(nomenclature: Nomenclature, tmp_path: Path) -> None:
    path = tmp_path / "nolabel.csv"
    path.write_text("description_activite,code_ape\nBoulangerie,1071C\n", encoding="utf-8")
    with pytest.raises(CodifDataError) as caught:
        read_labelled_forms(path, nomenclature)
    assert {v.path for v in caught.value.violations} == {"text", "label"}
    assert "label_majority" in caught.value.violations[1].reason
    with pytest.raises(MissingDataError):
        read_labelled_forms(tmp_path / "absent.csv", nomenclature)


def test_insee_and_api_column_names_are_accepted(nomenclature: Nomenclature, tmp_path: Path) -> None:
    path = tmp_path / "api.csv"
    path.write_text("text_description,type_,nature,surface,event,code\nBoulangerie,c,4,2,01p,10.71C\n")
    labelled = read_labelled_forms(path, nomenclature)
    form = labelled.forms[0]
    assert (form.type_form, form.nature, form.surface, form.event) == ("C", "04", "2", "01P")
    assert labelled.labels == ("1071C",)


def test_data_dir_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODIF_DATA_DIR", str(tmp_path))
    assert resolve_data_dir() == tmp_path.resolve()
    monkeypatch.setenv("CODIF_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(MissingDataError, match="CODIF_DATA_DIR"):
        resolve_data_dir()


def test_params_parse_aliases_and_report_every_error() -> None:
    params = parse_params(["model=fasttext", "epochs=10", "wordNgrams=2", "lr=0.5", "loss=softmax"])
    assert (params.model, params.epoch, params.word_ngrams, params.lr, params.loss) == (
        "fasttext",
        10,
        2,
        0.5,
        "softmax",
    )
    assert "svm_c" not in params.relevant()
    assert "dim" not in ModelParams().relevant()
    with pytest.raises(InvalidParameter) as caught:
        parse_params(["dimension=3", "epoch=ten", "novalue"])
    assert {v.path for v in caught.value.violations} == {"dimension", "epoch", "novalue"}
    with pytest.raises(InvalidParameter) as caught:
        parse_params(["model=bert", "dim=0", "minn=5", "maxn=3"])
    assert {v.path for v in caught.value.violations} == {"model", "dim", "minn"}
