"""The feature catalogue is the one list of feature columns: docs and the service's schema follow it."""

from __future__ import annotations

import re
from pathlib import Path

from memberwise.catalogue import CATALOGUE, FEATURE_COLUMNS, feature_kind, markdown_table
from memberwise.serving.schemas import FeatureRecord

DOCS = Path(__file__).parents[2] / "docs" / "features.md"


def test_docs_list_exactly_the_catalogue() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert markdown_table() in docs
    listed = re.findall(r"^\| `([a-z0-9_]+)` \|", docs, flags=re.MULTILINE)
    assert listed == [f.name for f in CATALOGUE]


def test_feature_record_fields_are_the_catalogue() -> None:
    fields = FeatureRecord.model_fields
    assert [n for n in fields if n != "preferred_channel"] == list(FEATURE_COLUMNS)
    for feature in CATALOGUE:
        assert fields[feature.name].description == feature.description


def test_names_unique_and_kinds_known() -> None:
    names = [f.name for f in CATALOGUE]
    assert len(names) == len(set(names))
    assert {f.kind for f in CATALOGUE} == {"text", "flag", "date", "number"}
    assert feature_kind("customer_type") == "text"
    assert feature_kind("bgnbd_p_alive") == "number"  # derived model inputs are numbers
