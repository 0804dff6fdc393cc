"""A tiny, hand-written codif data folder (same file layout and columns as ../shared/data), for fast unit tests."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import pytest

from codif.nomenclature import Nomenclature

SUBCLASSES = [
    # subclass, label, class, class label, group, group label, division, division label, section, section label
    (
        "10.71C",
        "Boulangerie et boulangerie-pâtisserie",
        "10.71",
        "Fabrication de pain et de pâtisserie fraîche",
        "10.7",
        "Fabrication de produits de boulangerie",
        "10",
        "Industries alimentaires",
        "C",
        "INDUSTRIE",
    ),
    (
        "10.71D",
        "Pâtisserie",
        "10.71",
        "Fabrication de pain et de pâtisserie fraîche",
        "10.7",
        "Fabrication de produits de boulangerie",
        "10",
        "Industries alimentaires",
        "C",
        "INDUSTRIE",
    ),
    (
        "47.91A",
        "Vente à distance sur catalogue général",
        "47.91",
        "Vente à distance",
        "47.9",
        "Commerce de détail hors magasin",
        "47",
        "Commerce de détail",
        "G",
        "COMMERCE",
    ),
    (
        "47.91B",
        "Vente à distance sur catalogue spécialisé",
        "47.91",
        "Vente à distance",
        "47.9",
        "Commerce de détail hors magasin",
        "47",
        "Commerce de détail",
        "G",
        "COMMERCE",
    ),
    (
        "53.20Z",
        "Autres activités de poste et de courrier",
        "53.20",
        "Autres activités de poste et de courrier",
        "53.2",
        "Autres activités de poste et de courrier",
        "53",
        "Activités de poste et de courrier",
        "H",
        "TRANSPORTS",
    ),
    (
        "68.20A",
        "Location de logements",
        "68.20",
        "Location et exploitation de biens immobiliers propres ou loués",
        "68.2",
        "Location de biens immobiliers",
        "68",
        "Activités immobilières",
        "L",
        "IMMOBILIER",
    ),
    (
        "68.20B",
        "Location de terrains et d'autres biens immobiliers",
        "68.20",
        "Location et exploitation de biens immobiliers propres ou loués",
        "68.2",
        "Location de biens immobiliers",
        "68",
        "Activités immobilières",
        "L",
        "IMMOBILIER",
    ),
]


def _write(path: Path, header: list[str], rows: Iterable[Iterable[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_data_dir(root: Path) -> Path:
    """Write the tiny data folder under ``root`` and return it."""
    _write(
        root / "nomenclature/naf2008/naf2008_5levels_fr.csv",
        [
            "subclass",
            "subclass_nodot",
            "label_subclass",
            "label_subclass_65",
            "label_subclass_40",
            "class",
            "label_class",
            "group",
            "label_group",
            "division",
            "label_division",
            "section",
            "label_section",
        ],
        [(s[0], s[0].replace(".", ""), s[1], s[1][:65], s[1][:40], *s[2:]) for s in SUBCLASSES],
    )
    _write(
        root / "notes_explicatives/naf2008_notes_subclass_tidy.csv",
        ["subclass", "title", "comprend", "comprend_aussi", "ne_comprend_pas", "produits_associes"],
        [
            (
                "10.71C",
                "Boulangerie",
                "la fabrication de pain :\n• baguettes\n• pain de campagne",
                "les viennoiseries",
                "la fabrication de gâteaux (cf. 10.71D)",
                "Produits associés : 10.71.11",
            ),
            ("10.71D", "Pâtisserie", "la fabrication de gâteaux et tartes", "", "", "Produits associés : 10.71.12"),
            ("47.91A", "VAD", "la vente par correspondance de tous produits", "", "", ""),
            ("47.91B", "VAD spécialisée", "la vente en ligne de vêtements\nla vente en ligne de livres", "", "", ""),
            (
                "53.20Z",
                "Courrier",
                "la livraison de colis et de repas à domicile",
                "les coursiers à vélo",
                "la location de chambres meublées (cf. 68.20A)",
                "",
            ),
            ("68.20A", "Logements", "la location de logements meublés ou non", "", "", ""),
            ("68.20B", "Terrains", "la location de terrains\nla gestion de biens immobiliers propres", "", "", ""),
        ],
    )
    _write(
        root / "notes_explicatives/cpf_rev2_1_products_tidy.csv",
        [
            "cpf_code",
            "level",
            "title",
            "content",
            "naf_class",
        ],
        [
            ("10.71.11", "sousCatégorie", "Pain frais", "pain, baguette", "10.71"),
            ("10.71.12", "sousCatégorie", "Pâtisseries et gâteaux frais", "", "10.71"),
            ("53.20.11", "sousCatégorie", "Services de livraison de colis", "", "53.20"),
        ],
    )
    _write(
        root / "weak_labels/guichet_activities_to_ape_tidy.csv",
        [
            "guichet_code",
            "niv1",
            "niv2",
            "niv3",
            "niv4",
            "mots_specifiques",
            "mots_generiques",
            "autres",
            "mots_exclusion",
            "ape_compatibles",
            "n_ape",
        ],
        [
            (
                "1",
                "Commerce",
                "Vente",
                "Vente en ligne",
                "",
                "e-commerce, site marchand",
                "vente",
                "",
                "",
                "47.91B",
                "1",
            ),
            ("2", "Transport", "Livraison", "Livreur", "", "coursier, livreur, uber eats", "", "", "", "53.20Z", "1"),
            ("3", "Immobilier", "Location", "Loueur meublé", "", "lmnp, meublé", "", "", "", "68.20A|55.20Z", "2"),
        ],
    )
    gold_header = [
        "task_id",
        "text",
        "liasse_type",
        "evenement_type",
        "cj",
        "activ_nat_et",
        "activ_nat_et_intitule",
        "activ_surf_et",
        "mode_calcul_ape",
        "apet_finale",
        "date_modification",
        "label_majority",
        "agreement",
        "remarks",
    ]
    gold = [
        ("1", "Boulangerie artisanale", "M", "01P", "", "10", "", "", "AUTO", "1071C", "", "1071C", "1.0", ""),
        ("2", "boulangerie  artisanale !", "M", "01P", "", "10", "", "30.0", "AUTO", "1071C", "", "1071C", "1.0", ""),
        ("3", "Livraison de repas à vélo", "X", "01P", "", "", "", "", "AUTO", "5320Z", "", "5320Z", "1.0", ""),
        ("4", "Livreur Uber Eats", "X", "01P", "", "", "", "", "AUTO", "5320Z", "", "5320Z", "1.0", ""),
        ("5", "Vente de vêtements en ligne", "C", "01P", "", "99", "", "", "AUTO", "4791B", "", "4791B", "1.0", ""),
        (
            "6",
            "Location meublée non professionnelle",
            "I",
            "01P",
            "",
            "",
            "",
            "",
            "AUTO",
            "6820A",
            "",
            "6820A",
            "1.0",
            "",
        ),
        ("7", "Gestion de biens immobiliers", "G", "01M", "6540", "", "", "", "AUTO", "6820B", "", "6820B", "1.0", ""),
        ("8", "Pâtisserie fine", "M", "01P", "", "10", "", "", "AUTO", "1071D", "", "1071D", "1.0", ""),
        ("9", "Prestations diverses", "X", "01P", "", "", "", "", "AUTO", "7022Z", "", "XXXXX", "1.0", ""),
        ("10", "Vente par correspondance", "C", "01P", "", "99", "", "", "AUTO", "4791A", "", "4791A", "1.0", ""),
    ]
    _write(root / "labeled/gold_dev.csv", gold_header, gold)
    _write(
        root / "insee_reference/samples/tests_yaml_codif-ape-train.csv",
        ["case", "title", "LIB_SICORE", "AUTO", "NAT_SICORE", "SURF", "EVT_SICORE", "Target"],
        [
            ("Case 1", "Test 1", "BOULANGER", "C", "10", "1", "01P", "1071C"),
            ("Case 2", "Test 2", "Livreur à vélo", "X", "", "", "01P", "5320Z"),
        ],
    )
    return root


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_data_dir(tmp_path_factory.mktemp("codif-data"))


@pytest.fixture(scope="session")
def nomenclature(data_dir: Path) -> Nomenclature:
    return Nomenclature.load(data_dir=data_dir)
