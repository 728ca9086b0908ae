"""The tuned values are settings: each says what it does and where it was calibrated, and each group reaches the
stage it tunes (set in assistant.toml, the environment or as a keyword)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant, ConfigError
from assistant.core.config import Settings, load_settings
from assistant.core.tuning import Tuning

GROUPS = {name: field.annotation for name, field in Settings.model_fields.items() if field.annotation in Tuning.__subclasses__()}
QUESTION = "At which port were the ships loaded?"


def test_every_tuned_value_says_what_it_does_and_where_it_was_calibrated() -> None:
    assert set(GROUPS) == {"retrieval", "question", "answer", "abstention", "citation"}
    for group, model in GROUPS.items():
        for name, field in model.model_fields.items():
            extra = field.json_schema_extra or {}
            assert field.description and len(field.description) > 20, f"{group}.{name} has no description"
            assert len(extra.get("provenance", "")) > 20, f"{group}.{name} has no provenance"


def test_a_tuned_value_reaches_its_stage(shipped: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    answered = Assistant.open(**shipped).ask(QUESTION)
    assert not answered.abstained and len(answered.citations) > 1
    # No sentence reaches a bar of 5: the same question abstains.
    strict = Assistant.open(**shipped, abstention={"support": 5.0, "covered_support": 5.0})
    assert strict.ask(QUESTION).abstained
    # From the environment, as ASSISTANT_<GROUP>__<NAME>: one sentence an answer.
    monkeypatch.setenv("ASSISTANT_ANSWER__MAX_SENTENCES", "1")
    brief = Assistant.open(**shipped)
    assert brief.settings.answer.max_sentences == 1 and len(brief.ask(QUESTION).citations) == 1
    assert brief.retriever.tuning is brief.settings.retrieval


def test_a_bad_tuned_value_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "assistant.toml").write_text("[answer]\nclose_to_best = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'answer.close_to_best'.*ASSISTANT_ANSWER__CLOSE_TO_BEST"):
        load_settings()
    (tmp_path / "assistant.toml").write_text("[answer]\nclose_to_best = 0.9\n", encoding="utf-8")
    assert load_settings().answer.close_to_best == 0.9 and load_settings().answer.max_sentences == 3
