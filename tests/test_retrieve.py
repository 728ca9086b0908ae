"""Hybrid retrieval on real indexes (Chroma on disk, the real embedding model, BM25)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import BRITAIN_DOC, UK_DOC

from assistant import Assistant
from assistant.core.config import load_settings
from assistant.core.errors import ConfigError
from assistant.core.text import sentence_spans
from assistant.index.ingest import ingest
from assistant.retrieve.fusion import rank_at, rank_of, rrf, top
from assistant.retrieve.rerank import FEATURES, MODEL_FILE, Reranker
from assistant.retrieve.targets import OutletMatcher

BOTH_ARTICLES = "Which company are the sanctioned ships tied to, and how many tons of rockets were carried in the hold of the Angara?"


def test_question_needing_both_articles_brings_both(bot: Assistant) -> None:
    passages = bot.retrieve(BOTH_ARTICLES, k=4)
    assert {p.doc_id for p in passages} == {UK_DOC, BRITAIN_DOC}
    texts = " ".join(p.text for p in passages)
    assert "Oboronlogistika" in texts and "hold of the Angara" in texts


def test_passages_are_verbatim_spans_of_their_documents(bot: Assistant) -> None:
    passages = bot.retrieve("At which port were the Russian ships loaded?", k=10)
    assert passages
    for p in passages:
        assert bot.document_text(p.doc_id)[p.start : p.end] == p.text


def test_k_is_respected(bot: Assistant) -> None:
    assert len(bot.retrieve("North Korean port", k=1)) == 1
    assert len(bot.retrieve("North Korean port", k=3)) == 3
    chunks = bot.index.manifest()["chunks"]
    everything = bot.retrieve("North Korean port", k=100)
    assert len(everything) == chunks
    assert len({p.node_id for p in everything}) == chunks


ARTICLES = [
    {"title": "Council approves ferry terminal", "source": "Harbor Gazette", "published_at": "2023-10-01 09:00:00.000000000Z",
     "url": "https://example.org/gazette-1", "body": "The city council approved the budget for a new ferry terminal on the waterfront."},
    {"title": "Ferry terminal opens", "source": "Harbor Gazette", "published_at": "2023-11-15 09:00:00.000000000Z",
     "url": "https://example.org/gazette-2", "body": "Passengers boarded the first boats as the waterfront terminal opened to the public."},
    {"title": "Orchards busy", "source": "Valley Post | Morning Edition", "published_at": "2023-10-02 09:00:00.000000000Z",
     "url": "https://example.org/valley-1", "body": "Growers in the valley said pickers worked late to bring in the autumn crop."},
    {"title": "Record apple harvest and ferry terminal", "source": "Daily Ledger", "published_at": "2023-10-03 09:00:00.000000000Z",
     "url": "https://example.org/ledger-1", "body": "A record apple harvest was reported. The apple harvest record came as the ferry terminal opening drew crowds."},
    {"title": "Ferry terminal opening and apple harvest record", "source": "Daily Ledger", "published_at": "2023-11-16 09:00:00.000000000Z",
     "url": "https://example.org/ledger-2", "body": "The ferry terminal opening was covered widely; a record apple harvest was also reported again."},
]


@pytest.fixture(scope="module")
def outlets_bot(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    base = tmp_path_factory.mktemp("outlets")
    (base / "corpus").mkdir()
    (base / "corpus" / "news.json").write_text(json.dumps(ARTICLES), encoding="utf-8")
    paths = {"corpus_dir": base / "corpus", "index_dir": base / "index"}
    ingest(load_settings(**paths), progress=False)
    return Assistant.open(**paths)


def test_named_outlets_each_get_their_passages(outlets_bot: Assistant) -> None:
    plain = outlets_bot.retrieve("Was there a record apple harvest and a ferry terminal opening?", k=2)
    assert {p.source for p in plain} == {"Daily Ledger"}  # the words alone favour the Ledger

    named = outlets_bot.retrieve(
        "Did the Valley Post report a record apple harvest, while the Harbor Gazette covered the ferry terminal opening?", k=2
    )
    assert {p.source for p in named} == {"Valley Post | Morning Edition", "Harbor Gazette"}


def test_a_named_date_picks_that_days_article(outlets_bot: Assistant) -> None:
    first = outlets_bot.retrieve("What did the Harbor Gazette report on November 15, 2023 about the ferry terminal?", k=1)[0]
    assert first.doc_id == "https://example.org/gazette-2"
    first = outlets_bot.retrieve("What did the Harbor Gazette report on 2023-10-01 about the ferry terminal?", k=1)[0]
    assert first.doc_id == "https://example.org/gazette-1"


def test_outlet_matching_is_by_name_not_by_common_words() -> None:
    matcher = OutletMatcher({"The Age", "The Roar | Sports Writers Blog", "FOX News - Health"})
    assert matcher.targets("What is the age of the universe?") == []
    found = matcher.targets("Did The Age and The Roar agree, as FOX News reported on October 5, 2023?")
    assert [sorted(t.sources) for t in found] == [["The Age"], ["The Roar | Sports Writers Blog"], ["FOX News - Health"]]
    assert found[2].date == "2023-10-05"
    same = matcher.targets("After The Age report on 2023-10-01T10:00:00+00:00 and the later one by the same source on 2023-11-02?")
    assert [(sorted(t.sources), t.date) for t in same] == [(["The Age"], "2023-10-01"), (["The Age"], "2023-11-02")]


def test_a_title_cased_acronym_is_matched_in_capitals() -> None:
    matcher = OutletMatcher({"Cnbc | World Business News Leader", "Fortune"})
    found = matcher.targets("Did CNBC and Fortune both report on the exchange?")
    assert [sorted(t.sources) for t in found] == [["Cnbc | World Business News Leader"], ["Fortune"]]
    assert matcher.targets("Is it a fortune of the cnbc kind?") == []


def test_every_sentence_has_its_precomputed_vector(bot: Assistant) -> None:
    retriever = bot.retriever
    assert retriever.sentence_vectors is not None
    starts = retriever.sentence_starts
    assert len(starts) == len(retriever.nodes) and len(retriever.sentence_rows) > starts[-1]
    # Row i is sentence i of the sentence index: the first sentence of the first chunk, embedded afresh.
    first = retriever.nodes[0].text
    a, b = sentence_spans(first)[0]
    fresh = bot._embed([first[a:b]])[0]
    assert float(retriever.sentence_vectors[retriever.sentence_rows[0]] @ fresh) > 0.99


def test_a_second_date_for_one_outlet_is_its_own_target() -> None:
    matcher = OutletMatcher({"TechCrunch", "The Verge"}, {("TechCrunch", "2023-09-28"), ("TechCrunch", "2023-12-19")})
    found = matcher.targets(
        "Did TechCrunch, after reporting on September 28, 2023, that OpenAI would wait, keep its view when "
        "reporting on December 19, 2023, about an app store for AI tools?"
    )
    assert [(sorted(t.sources), t.date) for t in found] == [(["TechCrunch"], "2023-09-28"), (["TechCrunch"], "2023-12-19")]
    assert "app store" in found[1].text and "September" not in found[1].text
    assert len(matcher.targets("Did TechCrunch report on September 28, 2023 and on October 3, 2023?")) == 1  # none that day


def test_fusion_is_by_rank_not_by_score() -> None:
    keyword, cosine = np.array([9.0, 3.0, 1.0]), np.array([0.1, 0.2, 0.9])
    fused = rrf([keyword, cosine], 60)
    assert fused[0] == pytest.approx(fused[2]) and fused[0] > fused[1]  # first once and last once beats second twice
    assert np.array_equal(rrf([keyword * 1000, cosine], 60), fused)  # a score's scale does not matter, its order does
    within = rrf([keyword], 60, mask=np.array([False, True, True]))
    assert within[0] == -np.inf and within[1] == pytest.approx(1 / 60)  # ranked first among the masked chunks


def test_candidates_have_one_feature_row_each(bot: Assistant) -> None:
    positions, features = bot.retriever.candidates("At which port were the Russian ships loaded?", 10)
    assert len(set(positions.tolist())) == len(positions) == bot.index.manifest()["chunks"]  # few chunks: all are candidates
    assert features.shape == (len(positions), len(FEATURES)) and np.isfinite(features).all()


def test_shipped_reranker_weights_load() -> None:
    model = Reranker.load(MODEL_FILE)
    assert model.coef.shape == (len(FEATURES),) and np.any(model.coef != 0)
    assert "MultiHop-RAG dev" in json.loads(MODEL_FILE.read_text())["trained_on"]


@pytest.mark.parametrize(
    "content",
    ["not json", json.dumps({"features": ["bm25"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0}),
     json.dumps({"features": list(FEATURES), "mean": [0], "scale": [1], "coef": [1], "intercept": 0})],
)
def test_unusable_reranker_weights_are_a_one_line_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "reranker.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"reranker weights .* are unusable .*; reinstall") as error:
        Reranker.load(path)
    assert "\n" not in str(error.value)


def test_partial_rankings_agree_with_full_sorts() -> None:
    """The shortcuts (ranks of a few chunks, the best n by partition, an outlet ranked alone) give what
    sorting every chunk gives, ties included (many chunks share BM25 0)."""
    rng = np.random.default_rng(25)
    for _ in range(50):
        scores = np.where(rng.random(300) < 0.5, rng.integers(0, 6, size=300), rng.random(300))  # half of them tied
        positions = rng.choice(300, size=20, replace=False)
        assert np.array_equal(rank_at(scores, positions), rank_of(scores)[positions])
        mask = rng.random(300) < 0.2
        masked = np.where(mask, scores, -np.inf)
        for n in (1, 7, 60, 400):
            assert top(scores, n) == [int(i) for i in np.argsort(-scores, kind="stable")[:n]]
            assert top(scores, n, np.flatnonzero(mask)) == [int(i) for i in np.argsort(-masked, kind="stable")[:n] if mask[i]]
        expected = np.zeros(300)
        for ranking in (scores, -scores):
            expected += 1.0 / (60 + rank_of(np.where(mask, ranking, -np.inf)))
        assert np.array_equal(rrf([scores, -scores], 60, mask), np.where(mask, expected, -np.inf))
