"""The model on the tiny data: training, the Coder contract, persistence, the pyfunc wrapper, fast TF-IDF."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from codif.data import build_corpus
from codif.errors import CodifDataError, InvalidParameter, ModelNotFound
from codif.forms import Form, Prediction
from codif.linear import FastTfidf
from codif.model import CodifModel
from codif.nomenclature import Nomenclature
from codif.params import ModelParams
from codif.pyfunc import CodifPyfunc, forms_from_frame, predictions_frame


@pytest.fixture(scope="module")
def corpus(nomenclature: Nomenclature, data_dir: Path) -> pd.DataFrame:
    return build_corpus(nomenclature, [data_dir / "labeled/gold_dev.csv"], data_dir=data_dir)


@pytest.fixture(scope="module")
def model(corpus: pd.DataFrame, nomenclature: Nomenclature) -> CodifModel:
    return CodifModel.train(corpus, nomenclature, ModelParams(), info={"corpus_hash": "x"})


def test_the_model_codes_forms_like_the_data_says(model: CodifModel) -> None:
    predictions = model.predict_forms(
        [Form("Livreur de repas à vélo", type_form="X"), Form("Boulangerie", type_form="M", nature="10")], k=3
    )
    assert [p.candidates[0].code for p in predictions] == ["5320Z", "1071C"]
    first = predictions[0]
    assert isinstance(first, Prediction)
    assert len(first.candidates) <= 3
    probabilities = [c.probability for c in first.candidates]
    assert probabilities == sorted(probabilities, reverse=True)
    assert first.candidates[0].label == "Autres activités de poste et de courrier"
    assert 0.0 <= first.ic <= 1.0


def test_probabilities_sum_to_one_and_ic_is_p1_minus_p2(model: CodifModel) -> None:
    forms = [Form("vente de vêtements sur internet"), Form("location meublée")]
    matrix = model.probabilities(forms)
    assert matrix.shape == (2, len(model.classes))
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, rtol=1e-5)
    ordered = np.sort(matrix, axis=1)[:, ::-1]
    predictions = model.predict_forms(forms, k=1, prob_min=0.0)
    for row, prediction in enumerate(predictions):
        assert len(prediction.candidates) == 1
        assert prediction.ic == pytest.approx(ordered[row, 0] - ordered[row, 1], abs=1e-6)


def test_prob_min_filters_candidates_but_not_ic(model: CodifModel) -> None:
    [everything] = model.predict_forms([Form("boulangerie")], k=7, prob_min=0.0)
    [filtered] = model.predict_forms([Form("boulangerie")], k=7, prob_min=everything.candidates[1].probability)
    assert len(everything.candidates) == 7
    assert len(filtered.candidates) == 2
    assert filtered.ic == everything.ic
    [none] = model.predict_forms([Form("boulangerie")], k=5, prob_min=1.1)
    assert none.candidates == ()


def test_a_description_with_no_known_feature_is_answered(model: CodifModel) -> None:
    # "A" has a letter (accepted) but no word the model keeps: an all-zero feature row, alone or among others
    [alone] = model.predict_forms([Form("A")], k=2, prob_min=0.0)
    assert len(alone.candidates) == 2
    both = model.predict_forms([Form("A"), Form("boulangerie")], k=1)
    assert both[0] == alone.__class__(alone.candidates[:1], alone.ic)
    assert both[1].candidates[0].code == "1071C"


def test_empty_descriptions_are_refused_by_position(model: CodifModel) -> None:
    with pytest.raises(CodifDataError) as caught:
        model.predict_forms([Form("ok"), Form(""), Form("12 !!")])
    assert [v.path for v in caught.value.violations] == ["forms[1].description", "forms[2].description"]
    assert model.predict_forms([]) == []


def test_save_and_load_give_the_same_answers(model: CodifModel, tmp_path: Path) -> None:
    folder = model.save(tmp_path / "m")
    again = CodifModel.load(folder)
    forms = [Form("boulangerie pâtisserie", type_form="C"), Form("livreur")]
    np.testing.assert_allclose(again.probabilities(forms), model.probabilities(forms), rtol=1e-6)
    assert again.info["corpus_hash"] == "x"
    with pytest.raises(ModelNotFound):
        CodifModel.load(tmp_path / "empty")


def test_fasttext_baseline_and_ensemble_train(corpus: pd.DataFrame, nomenclature: Nomenclature, tmp_path: Path) -> None:
    # bucket=1000 (with dim=10) made fastText 0.9.2 stop with "Encountered NaN." in 15-35% of trainings on this
    # 20-row corpus, at any lr and whatever the seed; 10,000 buckets: none in 200 trainings
    small = ModelParams(model="fasttext", dim=10, epoch=5, bucket=10_000, min_count=1, thread=1)
    baseline = CodifModel.train(corpus, nomenclature, small)
    [prediction] = baseline.predict_forms([Form("boulangerie", type_form="M")], k=2, prob_min=0.0)
    assert len(prediction.candidates) == 2
    again = CodifModel.load(baseline.save(tmp_path / "ft"))
    np.testing.assert_allclose(
        again.probabilities([Form("boulangerie")]), baseline.probabilities([Form("boulangerie")]), rtol=1e-5
    )
    ensemble = CodifModel.train(corpus, nomenclature, small.replace(model="ensemble"))
    np.testing.assert_allclose(ensemble.probabilities([Form("livreur")]).sum(), 1.0, rtol=1e-5)


def test_a_diverging_fasttext_is_a_clear_error(corpus: pd.DataFrame, nomenclature: Nomenclature) -> None:
    params = ModelParams(model="fasttext", dim=10, epoch=50, lr=1e6, bucket=1000, min_count=1, thread=1)
    with pytest.raises(InvalidParameter, match="fastText training failed"):
        CodifModel.train(corpus, nomenclature, params)


def test_the_fast_scoring_path_equals_the_plain_products(model: CodifModel) -> None:
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize

    from codif.model import prepare

    scorer = model.tfidf
    assert scorer is not None
    forms = [Form("Boulangerie pâtisserie artisanale", type_form="M"), Form("Livreur à vélo"), Form("zzz qqq")]
    prepared = [prepare(form) for form in forms]
    plain = normalize(
        sp.hstack(
            [scorer.char.transform([p.words for p in prepared]), scorer.word.transform([p.stems for p in prepared])],
            format="csr",
        )
    )
    fast = scorer._text_matrix(prepared)
    np.testing.assert_allclose(fast.toarray(), plain.toarray(), rtol=1e-5, atol=1e-6)
    weights = sp.vstack([sp.csr_matrix(scorer.head_weights), scorer.tail_weights]).tocsr()[scorer.permutation]
    np.testing.assert_allclose(scorer._products(fast), (plain @ weights).toarray(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("middle_share", [0.0, 0.05, 2.0])
def test_the_three_tiers_of_weights_give_the_plain_product(
    model: CodifModel, middle_share: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scipy.sparse as sp

    from codif import linear
    from codif.model import prepare

    scorer = model.tfidf
    assert scorer is not None
    monkeypatch.setattr(linear, "_MIDDLE_MIN_SHARE", middle_share)
    monkeypatch.setattr(scorer, "_tiers", linear._TailTiers.of(scorer.tail_weights))
    tiers = scorer._tiers
    assert tiers is not None
    n_tail = scorer.tail_weights.shape[0]
    assert len(tiers.middle) == {0.0: n_tail, 2.0: 0}.get(middle_share, len(tiers.middle))
    assert tiers.rest.nnz + np.count_nonzero(tiers.middle) == scorer.tail_weights.nnz
    forms = [Form(text) for text in ("Boulangerie pâtisserie artisanale", "Livreur à vélo", "conseil en informatique")]
    text = scorer._text_matrix([prepare(form) for form in forms])
    weights = sp.vstack([sp.csr_matrix(scorer.head_weights), scorer.tail_weights]).tocsr()[scorer.permutation]
    np.testing.assert_allclose(scorer._products(text), (text @ weights).toarray(), rtol=1e-4, atol=1e-5)


def test_a_large_batch_is_scored_in_chunks_with_the_same_answers(
    model: CodifModel, corpus: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codif import linear
    from codif import model as model_module

    texts = [str(t) for t in corpus["text"]]
    forms = [Form(texts[i % len(texts)], type_form="MCXIP"[i % 5]) for i in range(180)]
    one_by_one = np.vstack([model.probabilities([form]) for form in forms])
    chunks: list[int] = []
    chunked_scores = linear.TfidfScorer.chunked_scores

    def spy(self: linear.TfidfScorer, parts: Any, finish: Any) -> Any:
        counted = [list(part) for part in parts]
        chunks.extend(len(part) for part in counted)
        return chunked_scores(self, counted, finish)

    monkeypatch.setattr(linear.TfidfScorer, "chunked_scores", spy)
    monkeypatch.setattr(model_module, "PIPELINE_MIN_FORMS", 50)
    monkeypatch.setattr(model_module, "CHUNK_FORMS", 40)
    batch = model.probabilities(forms)
    assert chunks == [36] * 5
    np.testing.assert_allclose(batch, one_by_one, rtol=1e-5, atol=1e-7)
    chunks.clear()
    predictions = model.predict_forms(forms, k=3, prob_min=0.0)
    assert chunks == [36] * 5
    assert predictions == model.predictions_from(batch, k=3, prob_min=0.0)
    with pytest.raises(CodifDataError) as caught:
        model.predict_forms([*forms, Form("")])
    assert [v.path for v in caught.value.violations] == ["forms[180].description"]


def test_fast_tfidf_equals_scikit_learn() -> None:
    rng = random.Random(0)
    alphabet = "abcdefghij"
    documents = [
        " ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9))) for _ in range(rng.randint(0, 6)))
        for _ in range(300)
    ]
    for vectorizer in (
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=False),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"\S+", sublinear_tf=True, lowercase=False),
    ):
        vectorizer.fit(documents[:200])
        fast = FastTfidf(vectorizer)
        expected = vectorizer.transform(documents[200:]).toarray()
        np.testing.assert_allclose(fast.transform(documents[200:]).toarray(), expected, rtol=1e-5, atol=1e-6)


def test_pyfunc_table_in_table_out(model: CodifModel) -> None:
    wrapper = CodifPyfunc()
    wrapper.model = model
    table = pd.DataFrame(
        {
            "description": ["Boulangerie artisanale", "Livreur Uber Eats"],
            "type_form": ["M", None],
            "nature": ["10", float("nan")],
        }
    )
    out = wrapper.predict(None, table, params={"k": 2, "prob_min": 0.0})
    assert list(out.columns) == ["code_1", "label_1", "probability_1", "code_2", "label_2", "probability_2", "ic"]
    assert list(out["code_1"]) == ["1071C", "5320Z"]
    forms = forms_from_frame(table)
    assert forms[1].type_form is None
    assert forms[1].nature is None
    assert wrapper.predict_forms(forms, k=2) == model.predict_forms(forms, k=2)
    with pytest.raises(CodifDataError, match="description"):
        wrapper.predict(None, pd.DataFrame({"text": ["x"]}))
    empty = predictions_frame([], 1)
    assert list(empty.columns) == ["code_1", "label_1", "probability_1", "ic"]


def test_training_on_the_whole_evaluation_file_logs_no_evaluation(
    corpus: pd.DataFrame, nomenclature: Nomenclature, data_dir: Path
) -> None:
    from codif.train import train_and_evaluate

    # every classifiable gold form is in the corpus; only the unclassifiable one (never trained on) is left
    result = train_and_evaluate(
        ModelParams(),
        nomenclature=nomenclature,
        corpus=corpus,
        evaluation_file=data_dir / "labeled/gold_dev.csv",
        data_dir=data_dir,
    )
    assert result.evaluation is None
    assert result.evaluation_excluded == 9
    assert len(result.insee_tests) == 2
