"""codif's targets: training on the full corpus under 60 s on 2 cores, prediction of at least 5,000 forms per second in
one process, model file under 200 MB.

Run: ``python -m benchmarks.codif [--runs N] [--param key=value]...``. The full corpus is the nomenclature corpus
plus the 1,180 classifiable expert forms of ``gold_dev.csv`` (what a production model trains on). Prediction is
timed through :meth:`CodifModel.predict_forms` (preprocessing included) on 5,000 distinct real texts (the 1,210
gold forms and corpus texts) after a warm-up on 5,000 other texts, as a serving process would see them; the cold
figure (first batch after loading) is reported beside it, without a target.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import Figure, median_seconds, report
from codif.data import build_corpus
from codif.forms import Form
from codif.model import CodifModel
from codif.nomenclature import Nomenclature
from codif.params import parse_params
from codif.paths import GOLD_CSV, data_file


def _forms(corpus_texts: list[str], gold_texts: list[str], seed: int) -> tuple[list[Form], list[Form]]:
    rng = random.Random(seed)
    pool = sorted(set(corpus_texts) - set(gold_texts))
    rng.shuffle(pool)
    timed = gold_texts + pool[: 5000 - len(gold_texts)]
    warm = pool[5000 - len(gold_texts) : 10_000 - len(gold_texts)]
    types = "CMXGIRL"
    return (
        [Form(text, type_form=rng.choice(types)) for text in warm],
        [Form(text, type_form=rng.choice(types)) for text in timed],
    )


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.codif")
    parser.add_argument("--runs", type=int, default=3, help="timed trainings (prediction: 3x as many runs)")
    parser.add_argument("--param", "-p", action="append", default=[], help="training parameter key=value")
    args = parser.parse_args(argv)
    params = parse_params(args.param)
    nomenclature = Nomenclature.load()
    gold = data_file(GOLD_CSV)
    corpus = build_corpus(nomenclature, [gold])
    print(f"corpus: {len(corpus)} rows ({int((corpus['source'] == 'expert').sum())} expert), model {params.model}")

    trained: list[CodifModel] = []

    def train() -> None:
        trained.append(CodifModel.train(corpus, nomenclature, params))

    train_median, _ = median_seconds(train, runs=args.runs, warmup=0)
    model = trained[-1]
    import pandas as pd

    gold_texts = list(pd.read_csv(gold, dtype=str, keep_default_na=False)["text"])
    warm, timed = _forms(list(corpus["text"]), gold_texts, seed=0)
    with tempfile.TemporaryDirectory(prefix="codif-bench-") as folder:
        saved = model.save(Path(folder) / "model")
        size = _size_mb(saved)
        cold_started = time.perf_counter()
        fresh = CodifModel.load(saved)
        fresh.predict_forms(timed)
        cold = len(timed) / (time.perf_counter() - cold_started)
    model.predict_forms(warm)
    predict_median, _ = median_seconds(lambda: model.predict_forms(timed), runs=3 * args.runs, warmup=1)
    figures = [
        Figure("training on the full corpus", train_median, "s", target=60.0, runs=args.runs),
        Figure(
            "prediction, warm process",
            len(timed) / predict_median,
            "forms/s",
            target=5000.0,
            lower_is_better=False,
            runs=3 * args.runs,
        ),
        Figure("prediction, cold (load + first batch)", cold, "forms/s", lower_is_better=False),
        Figure("model file", size, "MB", target=200.0),
    ]
    return 0 if report("codif", figures) else 1


if __name__ == "__main__":
    sys.exit(main())
