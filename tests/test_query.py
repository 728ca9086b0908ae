"""The query engine end to end on the shipped corpus: real index, real embedding model, no LLM."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from conftest import BRITAIN_DOC, ROOT, UK_DOC

from assistant import Answer, Assistant, IndexStateError, QuestionError


def assert_citations_exact(bot: Assistant, answer: Answer) -> None:
    assert answer.citations, answer.text
    for number, citation in enumerate(answer.citations, 1):
        assert citation.number == number
        assert f"[{number}]" in answer.text
        assert bot.document_text(citation.doc_id)[citation.start : citation.end] == citation.text
        assert citation.path == citation.doc_id and citation.title
    # Every sentence ends with its marker.
    for sentence in answer.text.split("]. ")[:-1]:
        assert sentence.rstrip().endswith(tuple(f"[{c.number}" for c in answer.citations)), sentence


@pytest.mark.parametrize(
    ("question", "fact", "doc"),
    [
        ("Where is the ammunition depot at the end of the container route?", "Tikhoretsk", BRITAIN_DOC),
        ("How many tons of rockets were carried in the hold of the Angara?", "50 tons", BRITAIN_DOC),
        ("Who met Putin at the Kremlin last week?", "Choe Son-hui", UK_DOC),
        ("What did Pranay Vaddi call the military cooperation between Russia and North Korea?", "unprecedented", UK_DOC),
        ("When did Russia first launch a North Korean ballistic missile into Ukraine?", "December 30, 2023", BRITAIN_DOC),
        # A sentence that defines the name ("X, a ...", "... (X)") rather than one that merely mentions it.
        ("What is Oboronlogistika?", "shipping company owned by the Russian Ministry of Defense", UK_DOC),
        ("what is RUSI", "Royal Defense Research Institute (RUSI)", BRITAIN_DOC),
        ("what is oboronlogistika", "shipping company owned by the Russian Ministry of Defense", UK_DOC),  # all lower case
        ("Tell me about RUSI.", "Royal Defense Research Institute (RUSI)", BRITAIN_DOC),
        ("What does RUSI stand for?", "Royal Defense Research Institute (RUSI)", BRITAIN_DOC),
        ("Tell me about Oboronlogistika", "shipping company owned by the Russian Ministry of Defense", UK_DOC),
        # "how many" asks for a figure ("many" is no word the answer holds); "the names of" for names.
        ("How many ships did the photos show?", "three Russian ships", UK_DOC),
        ("What were the names of the ships?", "Maja, Angara, and Maria", UK_DOC),
        # "give", "take": verbs the corpus says otherwise ("has provided") weigh little, and no more than the
        # question's other words, however common ("photos"): not "RUSI ... taking others out".
        ("What did Britain give the UN?", "satellite photos", BRITAIN_DOC),
        ("Who took the photos?", "UK's Defense Intelligence", UK_DOC),
        ("Which US official called the cooperation unprecedented?", "Pranay Vaddi", UK_DOC),  # "stated ... is"
        ("Where did the containers go?", "Tikhoretsk", BRITAIN_DOC),  # "the end point of the container route"
        ("What happened in September?", "September to December", BRITAIN_DOC),  # not "This is happening ..."
        ("Which ships were involved?", "the Maya, Angara and Maria", BRITAIN_DOC),  # not "known for its involvement"
        # The kind of thing asked for, when the corpus never uses its word, weighs little: the answer names one.
        ("Which newspaper obtained the report?", "The Guardian", UK_DOC),
        ("Which think tank identified two of the ships?", "Royal Joint Institute for Defense Research", BRITAIN_DOC),
        # "photographed" is the texts' "photos" (a clipped word counts as the full one); the sentences that match
        # it name no ship, so the answer also quotes the best one that does.
        ("Which ships were photographed?", "the Maya, Angara and Maria", BRITAIN_DOC),
        ("When were the images taken?", "From September to December", BRITAIN_DOC),
        # "What did X say?": where X says something, not where X is named ("Putin met with ... Peskov").
        ("What did Peskov say?", "Peskov stated that the talks aimed", UK_DOC),
        ("What did the UN diplomat say?", "said the UN diplomat", BRITAIN_DOC),
        # "What did X say about Y?": where X speaks of Y, in the texts' words ("photos" for "images").
        ("What did the UK say about the images?", "includes photos", UK_DOC),
        ("What did Washington announce about missile parts last week?", "discovered in Ukraine", UK_DOC),  # "the US"
        # The sentence after the best one, close behind it, says what the best one does not: the destination.
        ("What was the destination in the ship documents?", "Streletskaya Bay", BRITAIN_DOC),
        # An irregular verb in the question's form ("write") and the text's ("was written").
        ("What did the Guardian write?", "written by The Guardian", BRITAIN_DOC),
        # About the article itself: its byline and dateline, cited where the text states them.
        ("Who is the author?", "Liza Brovko", BRITAIN_DOC),
        ("Who wrote the article about Britain giving the UN photos of North Korean supplies?", "Liza Brovko", BRITAIN_DOC),
        ("When was the article about UK satellite images of Russian ships published?", "January 22, 2024", UK_DOC),
        # An indirect question is answered as the direct one it wraps.
        ("Do you know who identified the third ship?", "NK News", BRITAIN_DOC),
        ("Could you tell me what Peskov said?", "Peskov stated that the talks aimed", UK_DOC),
        ("Any idea where the containers ended up?", "Tikhoretsk", BRITAIN_DOC),
        ("Give me the exact quote from Budanov", "the situation would be catastrophic", BRITAIN_DOC),
    ],
)
def test_fact_questions(bot: Assistant, question: str, fact: str, doc: str) -> None:
    answer = bot.ask(question)
    assert not answer.abstained
    assert fact in answer.text
    assert_citations_exact(bot, answer)
    assert any(fact in c.text and c.doc_id == doc for c in answer.citations)
    assert all(len(c.text) < len(bot.document_text(c.doc_id)) // 3 for c in answer.citations), "cite spans, not documents"


def test_a_compound_questions_lone_question_word_asks_it_of_the_rest(bot: Assistant) -> None:
    from assistant.question.forms import split_question

    assert split_question("Where and when were the ships photographed?") == [
        "Where were the ships photographed?",
        "when were the ships photographed?",
    ]
    assert split_question("Who took the photos, and when?") == ["Who took the photos", "when took the photos"]
    assert split_question("Who and when?") == ["Who and when?"]  # nothing to ask them of
    # The "when" part is answered by a dated sentence, which the best one for "photographed" is not.
    answer = bot.ask("Where and when were the ships photographed?")
    assert "From September to December" in answer.text and "port" in answer.text, answer.text
    assert_citations_exact(bot, answer)


def test_question_that_needs_both_articles(bot: Assistant) -> None:
    answer = bot.ask("How can Korean-made Iskanders be identified, and where were fragments of them found?")
    assert_citations_exact(bot, answer)
    assert "serial numbers" in answer.text and "Kharkiv" in answer.text
    assert {c.doc_id for c in answer.citations} == {UK_DOC, BRITAIN_DOC}
    assert {p.doc_id for p in bot.retrieve("Russian ships loaded at the port of Najin", k=10)} == {UK_DOC, BRITAIN_DOC}


def test_follow_up_in_a_chat(bot: Assistant) -> None:
    chat = bot.chat()
    first = chat.ask("Which ships were photographed at Najin?")
    assert "Angara" in first.text and "Maria" in first.text
    follow = chat.ask("Which company are they tied to?")
    assert "Oboronlogistika" in follow.text and not follow.abstained
    assert follow.standalone_question  # resolved against the history
    assert_citations_exact(bot, follow)
    # The same words without the history carry no subject: a fresh chat does not answer them the same way.
    assert chat.history == ["Which ships were photographed at Najin?", "Which company are they tied to?"]
    # "They" are the ships: not "These horrific attacks [on Kharkiv] were carried out", about neither.
    carried = chat.ask("What did they carry?")
    assert "carried out" not in carried.text, carried.text
    # "They" are also what the last answer named: "the Angara" is one of the ships it quoted.
    chat = bot.chat()
    chat.ask("Which ships were photographed at Najin?")
    transported = chat.ask("What did they transport?")
    assert "50 tons of rockets" in transported.text, transported.text
    assert_citations_exact(bot, transported)
    # ... the ships it named, not every name it quoted: "the head of the North Korean Foreign Ministry" is no ship.
    chat = bot.chat()
    chat.ask("Which ships were loaded at Najin?")
    headed = chat.ask("Where were they headed?")
    assert "Far East" in headed.citations[0].text and "head of" not in headed.text, headed.text


def test_the_names_that_answer_which_x() -> None:
    from assistant.question.focus import focus_names

    quoted = "Three Russian ships, the Maya, Angara and Maria, docked at the North Korean port of Najin."
    assert focus_names("Which ships were loaded?", quoted) == {"maya", "angara", "maria"}
    assert focus_names("At which port were they loaded?", quoted) == {"najin"}
    assert focus_names("Who took the photos?", quoted) == set()  # no kind of thing asked for


def test_a_follow_up_about_the_last_answer_reads_its_passages(bot: Assistant) -> None:
    chat = bot.chat()
    known = chat.ask("What is Oboronlogistika known for?")
    assert "Crimea" in known.text
    when = chat.ask("When did that happen?")  # "that" is in the answer, not in the question before it
    assert "2014" in when.text and not when.abstained
    assert known.citations[0].text in when.standalone_question
    assert_citations_exact(bot, when)
    assert chat.ask("Why?").abstained  # no words to find a reason by
    assert bot.ask("When did that happen?").abstained  # outside a conversation it points at nothing
    chat = bot.chat()
    assert "Tikhoretsk" in chat.ask("Where did the containers end up?").text
    far = chat.ask("How far is that from Ukraine?")  # a distance, not the "Far East" of the Najin sentence
    assert "200 km" in far.text and "Far East" not in far.text
    chat = bot.chat()
    assert "nuclear deterrence" in chat.ask("What did Pranay Vaddi warn about?").text
    # "He issued a warning ..." holds no date; the sentence its "He" stands for does ("Vaddi ... stated last week").
    when = chat.ask("When did he say it?")
    assert "stated last week" in when.text and not when.abstained, when.text
    assert_citations_exact(bot, when)


def test_tell_me_more_does_not_repeat_the_last_answer(bot: Assistant) -> None:
    chat = bot.chat()
    who = chat.ask("Who is Pranay Vaddi?")
    assert "Director for Arms Control" in who.text
    more = chat.ask("Tell me more")  # the next sentence, whose "He" is Vaddi
    assert not more.abstained and "nuclear deterrence" in more.text
    assert not {(c.doc_id, c.start) for c in more.citations} & {(c.doc_id, c.start) for c in who.citations}
    assert_citations_exact(bot, more)
    # "He issued a warning ..." counts the names of the sentence before it.
    assert "nuclear deterrence" in bot.ask("What did Pranay Vaddi warn about?").text


def test_tell_me_more_goes_on_with_the_text_around_the_last_answer(bot: Assistant) -> None:
    chat = bot.chat()
    chat.ask("What did Peskov say?")
    # No other sentence about Peskov: the rest of his paragraph says which talks he spoke of.
    more = chat.ask("Tell me more")
    assert "Choe Son-hui" in more.text and not more.abstained, more.text
    assert_citations_exact(bot, more)
    chat = bot.chat()
    said = chat.ask("What did the UN diplomat say?")
    more = chat.ask("Tell me more")  # the quotation is its paragraph: the next one, about the UN
    assert "UN expert group" in more.text, more.text
    again = chat.ask("What else?")  # nothing quoted earlier in the conversation comes back
    quoted = {(c.doc_id, c.start) for answer in (said, more) for c in answer.citations}
    assert "first full report" in again.text and not quoted & {(c.doc_id, c.start) for c in again.citations}
    assert_citations_exact(bot, again)


def test_what_an_event_was_about_comes_with_the_sentence_that_says_it(bot: Assistant) -> None:
    # The sentence naming the meeting matches every word; the one after it says what the talks were for.
    about = bot.ask("What was the meeting between Putin and Choe Son-hui about?")
    assert "Choe Son-hui" in about.text and "further development of relations" in about.text, about.text
    assert_citations_exact(bot, about)
    discussed = bot.ask("What was discussed at the meeting in Moscow?")
    assert "strategic and tactical cooperation" in discussed.text, discussed.text
    # A sentence that says so itself needs nothing after it.
    purpose = bot.ask("What was the purpose of the talks at the Kremlin?")
    assert len(purpose.citations) == 1 and "aimed to foster" in purpose.text, purpose.text


def test_who_is_quoted_lists_every_sentence_where_someone_speaks(bot: Assistant) -> None:
    answer = bot.ask("Who is quoted in the articles?")
    for speaker in ("Peskov", "Pranay Vaddi", "Budanov", "said the UN diplomat", "Yuriy Ignat", "ambassador to the UN"):
        assert speaker in answer.text, speaker
    assert len({c.doc_id for c in answer.citations}) == 2  # both articles
    assert 'obtained by "The Guardian,"' not in answer.text  # a name in quotation marks is no one speaking
    assert_citations_exact(bot, answer)
    uk = bot.ask("Who is quoted in the UK article?")  # the article named: only its speakers
    assert "Peskov" in uk.text and "Budanov" not in uk.text and len({c.doc_id for c in uk.citations}) == 1
    # A topic makes it a question like any other, not a listing.
    assert "Budanov" not in bot.ask("Who is quoted about the talks at the Kremlin?").text


def test_speaking_is_reported_speech_or_a_quotation_with_a_speakers_verb() -> None:
    from assistant.answer.quotations import speaks
    from assistant.question.quoted import asks_who_is_quoted

    assert speaks('Dmitry Peskov stated last week that the talks aimed to foster "further development."')
    assert speaks('"This is a violation of several resolutions," said the UN diplomat.')
    assert speaks('A statement by members of the Security Council said: "These horrific attacks were carried out."')
    assert speaks('The cooperation is "unprecedented," according to the White House director, Pranaya Waddy.')
    assert not speaks('A report obtained by "The Guardian" includes photos.')
    assert not speaks("According to analysts, the end point was the depot in Tikhoretsk.")
    assert not speaks("On the same day, the United States officially announced that Russia had missiles.")
    assert asks_who_is_quoted("Which officials are quoted?") and asks_who_is_quoted("Whom does the article quote?")
    assert not asks_who_is_quoted("Who is quoted about the sanctions?")


def test_streaming_gives_pieces_then_the_complete_answer(bot: Assistant) -> None:
    chat = bot.chat()
    pieces = list(chat.stream("At which port were the Russian ships loaded?"))
    assert len(pieces) >= 1 and all(isinstance(p, str) for p in pieces)
    assert chat.last is not None and "".join(pieces) == chat.last.text
    assert "Najin" in chat.last.text
    assert_citations_exact(bot, chat.last)


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "Who won the 2022 football World Cup?",
        "How old is Kim Jong Un?",
        "How many missiles did Ukraine shoot down in January?",  # a date's figures are no count
        "Who wrote the article about the UK satellite images?",  # it has no byline; its headline is no author
        "Which outlet published the article about the UK satellite images?",  # the text never names its outlet
        "What does NK stand for?",  # "NK News" uses it, nothing expands it
        "What did Kim Jong Un say?",  # he is named, never quoted
        "What did Japan say?",  # named in Vaddi's warning, which is not Japan's
        "Which Chinese ports did the Russian ships visit?",  # only the kind ("ports") may be a word the corpus lacks
        "Which minister visited Najin?",  # a foreign minister is named, but as met at the Kremlin
        "What did Peskov say about the satellite photos?",  # he spoke of the talks, not of the photos
    ],
)
def test_questions_the_corpus_cannot_answer(bot: Assistant, question: str) -> None:
    answer = bot.ask(question)
    assert answer.abstained and not answer.citations
    assert "corpus does not answer" in answer.text
    assert answer.retrieved  # offered as related reading
    json.dumps(answer.to_dict())


def test_to_dict_is_json(bot: Assistant) -> None:
    data = json.loads(json.dumps(bot.ask("Which newspaper obtained the UK Defence Intelligence report?").to_dict()))
    assert {"text", "citations", "abstained", "retrieved"} <= set(data)
    assert "Guardian" in data["text"]
    assert {"number", "doc_id", "title", "path", "source", "date", "text", "start", "end"} <= set(data["citations"][0])


def test_bad_questions_are_typed_errors(bot: Assistant) -> None:
    for question in ["", "   \n\t "]:
        with pytest.raises(QuestionError, match="empty"):
            bot.ask(question)
    with pytest.raises(QuestionError, match="over the limit"):
        bot.ask("why " * 400)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ), timeout=600)


def test_cli_ask_prints_answer_and_sources(shipped: dict[str, Path]) -> None:
    where = ["--corpus", str(shipped["corpus_dir"]), "--index", str(shipped["index_dir"])]
    result = run_cli("ask", "Where is the ammunition depot at the end of the container route?", *where)
    assert result.returncode == 0, result.stderr
    assert "Tikhoretsk" in result.stdout and "Sources" in result.stdout and BRITAIN_DOC in result.stdout
    as_json = run_cli("ask", "Who met Putin at the Kremlin last week?", *where, "--json", "--k", "4")
    data = json.loads(as_json.stdout.strip().splitlines()[-1])
    assert len(data["retrieved"]) <= 4 and "Choe Son-hui" in data["text"]
    for args, message in [(("ask", "  ", *where), "empty"), (("ask", "x " * 600, *where), "over the limit")]:
        bad = run_cli(*args)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr


def test_missing_empty_and_corrupt_index(shipped: dict[str, Path], tmp_path: Path) -> None:
    empty_corpus = tmp_path / "empty"
    empty_corpus.mkdir()
    result = run_cli("ask", "anything?", "--corpus", str(empty_corpus), "--index", str(tmp_path / "none"))
    assert result.returncode == 2 and "nothing usable" in result.stderr and "Traceback" not in result.stderr

    broken = tmp_path / "broken"
    shutil.copytree(shipped["index_dir"], broken)
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexStateError, match="rebuild"):
        Assistant.open(shipped["corpus_dir"], broken)
    shutil.rmtree(broken)
    shutil.copytree(shipped["index_dir"], broken)
    from assistant.index.store import IndexDir

    shutil.rmtree(IndexDir(broken).current().bm25_dir)  # the committed generation's keyword index
    result = run_cli("ask", "anything?", "--corpus", str(shipped["corpus_dir"]), "--index", str(broken))
    assert result.returncode == 2 and "rebuild" in result.stderr and "Traceback" not in result.stderr


def test_byline_and_dateline_formats() -> None:
    """Bylines and datelines in other common layouts; questions not about the article itself are left alone."""
    from assistant.answer.byline import about_articles
    from assistant.core.types import Passage

    text = "Port traffic rises\n\nBy Jane Doe\nPublished 3 March 2024\n\nThe ferry Amur called at Vanino."
    passage = Passage("n1", "a.md", "Port traffic rises", "a.md", "", "", text, 0, len(text))

    def span(question: str) -> str | None:
        found = about_articles(question, [passage])
        return text[found[0][1] : found[0][2]] if found else None

    assert span("Who wrote the article about port traffic?") == "By Jane Doe"
    assert span("When was this story published?") == "Published 3 March 2024"
    assert span("Who is the author of the sanctions?") is None
    assert span("Who is the author?") == span("What is the writer's name?") == "By Jane Doe"
    assert span("When did the ferry call at Vanino?") is None
    assert span("Who wrote the UN report on the ferry?") is None  # a report the news is about, not the article

    other_text = "Rail freight falls\n\nBy John Roe\n2024-03-05\n\nFewer trains ran."
    other = Passage("n2", "b.md", "Rail freight falls", "b.md", "", "", other_text, 0, len(other_text))

    def lines(question: str) -> list[str]:
        return [p.text[a - p.start : b - p.start] for p, a, b in about_articles(question, [passage, other])]

    assert lines("Who wrote the articles?") == ["By Jane Doe", "By John Roe"]
    assert lines("When was the rail freight article published?") == ["2024-03-05"]  # the one it names
    assert lines("When was the article published?") == ["Published 3 March 2024"]  # else the best-ranked
    assert lines("Which article was published first?") == ["Published 3 March 2024", "2024-03-05"]
    undated_text = "Ferry news\n\nThe Amur sailed."
    undated = Passage("n3", "c.md", "Ferry news", "c.md", "", "", undated_text, 0, len(undated_text))
    assert about_articles("Which article was published first?", [passage, other, undated]) == []  # order unknown

    wire_text = "Ports reopen\n\nLONDON (Reuters) - The port of Vanino reopened on Monday."
    wire = Passage("n4", "d.md", "Ports reopen", "d.md", "", "", wire_text, 0, len(wire_text))
    credited_text = "Ferries return\nSource: The Kyiv Independent\n\nThe Amur sailed."
    credited = Passage("n5", "e.md", "Ferries return", "e.md", "", "", credited_text, 0, len(credited_text))
    found = about_articles("Which outlets published these articles?", [wire, credited, passage])
    assert [p.text[a - p.start : b - p.start] for p, a, b in found] == [
        "LONDON (Reuters) -",
        "Source: The Kyiv Independent",
    ]  # the article that names no outlet has no line to quote
    assert about_articles("Which newspaper obtained the report?", [credited]) == []  # not about the article


def test_irregular_verbs_match_their_base_form() -> None:
    from assistant.core.text import content_terms

    assert content_terms("Revenue grew as Britain gave photos") == content_terms("revenue grow as Britain give photos")
    # A form that is also a word of its own keeps its meaning: "found" (a company), "left" (the side).
    assert content_terms("found left shot") == ["found", "left", "shot"]
    # A clipped word is the full word's term ("photos" are "photographs").
    assert content_terms("photographed photographs telephone") == content_terms("photo photos phone")
    # A phrasal verb is a term of its own: attacks "carried out" carry nothing.
    assert content_terms("attacks were carried out") == ["attack", "carri out"]
    assert content_terms("the ships carried containers out") == ["ship", "carri", "contain"]


def test_a_phrasal_verb_does_not_answer_for_its_verb(bot: Assistant) -> None:
    answer = bot.ask("What were the ships carrying?")
    assert "carried out" not in answer.text  # "These horrific attacks [on Kharkiv] were carried out ..."


def test_a_letter_apostrophe_splits_words(bot: Assistant) -> None:
    from assistant.core.text import content_terms

    # "ʼ" (U+02BC) is a letter to Unicode and an apostrophe in the Britain article: "Russiaʼs" is Russia's.
    assert content_terms("Russiaʼs use of Pyongyangʼs missiles") == content_terms("Russia's use of Pyongyang's missiles")
    assert "russia" in bot.retriever.tokens("Russiaʼs use")


def test_subheadings_that_are_questions_are_never_answers() -> None:
    from assistant.answer.sentences import split_sentences
    from assistant.core.types import Passage

    text = "What is known about missiles from North Korea?\n\nOn January 5, the Air Force did not confirm their use."
    passage = Passage("n1", "a.md", "Missiles", "a.md", "", "", text, 0, len(text))
    assert [s.text for s in split_sentences([passage])] == ["On January 5, the Air Force did not confirm their use."]


def test_the_kind_asked_for_is_the_noun_before_the_verb() -> None:
    from assistant.question.forms import asked_kind

    assert asked_kind("Which newspaper obtained the report?") == {"newspap"}
    assert asked_kind("Which Chinese ports did the ships visit?") == {"port"}  # "ports" is no verb here
    assert asked_kind("At which port were the ships loaded?") == {"port"}
    assert asked_kind("Which satellite company took the images?") == {"compani"}
    assert asked_kind("What is Rason?") == asked_kind("Who obtained the report?") == frozenset()


def test_an_indirect_question_reads_as_the_direct_one() -> None:
    from assistant.question.indirect import direct

    assert direct("Do you know who took the photos?") == "Who took the photos?"
    assert direct("Can you tell me where the ships were loaded.") == "Where the ships were loaded?"
    assert direct("I'd like to know what Peskov said about the talks") == "What did Peskov say about the talks?"
    assert direct("Could you please tell me about RUSI?") == "Tell me about RUSI?"
    assert direct("Quote the UN diplomat") == "What did the UN diplomat say?"
    assert direct("Can you give me the exact quote from Peskov on the talks?") == "What did Peskov say about the talks?"
    # A subject of the texts is no wrapper: whether Britain knows is the question ("Britain cannot say for sure").
    for question in ("Does Britain know what was loaded?", "Do both articles say who took the photos?", "Who is he?"):
        assert direct(question) == question


def test_a_figure_in_words_answers_how_many() -> None:
    from assistant.answer.scoring import answer_type_bonus
    from assistant.core.tuning import AnswerTuning

    bonus = partial(answer_type_bonus, tuning=AnswerTuning())

    question = "How many Russian ships were photographed?"
    assert bonus(question, "Images show three Russian ships docked at Najin.") > 0
    assert bonus(question, "Hundreds of containers were loaded.") > 0
    assert bonus(question, "The ships were docked at Najin.") < 0
    # A figure of the thing counted beats a figure of something else.
    containers = "How many containers were delivered?"
    of_containers = bonus(containers, "Two cargo ships delivered several hundred containers.")
    assert of_containers > bonus(containers, "Images show three Russian ships loading containers.") > 0


def test_an_acronyms_expansion_is_what_answers_what_it_stands_for() -> None:
    from assistant.answer.scoring import expansion_of_asked_acronym

    expands = expansion_of_asked_acronym('What does the acronym "NATO" stand for?')
    assert expands is not None and expansion_of_asked_acronym("What is NATO?") is None
    for sentence in (
        "The North Atlantic Treaty Organization (NATO) met.",
        "It led to the treaty organisation (or NATO), which ...",
        "NATO (North Atlantic Treaty Organization) met.",
        "It was NATO or North Atlantic Treaty Organization.",
        'The "NATO" block (which promotions said stood for "No Action Talk Only").',
    ):
        assert expands.search(sentence), sentence
    assert not expands.search("NATO met in Brussels, and its members stand for election.")
    assert expansion_of_asked_acronym("what is nato short for") is not None  # typed in lower case


def test_what_someone_said_is_where_they_say_it() -> None:
    from assistant.answer.selection import asked_speaker
    from assistant.answer.sentences import split_sentences
    from assistant.core.types import Passage

    text = (
        "Putin met Choe Son-hui at the Kremlin. Kremlin spokesperson Dmitry Peskov stated that the talks went well. "
        "Pranay Vaddi, the Director for Arms Control, called it unprecedented. He issued a warning about Japan."
    )
    passage = Passage("n1", "a.md", "Talks", "a.md", "", "", text, 0, len(text))
    sentences = split_sentences([passage])

    def spoken(question: str) -> list[str]:
        speaker = asked_speaker(question)
        assert speaker is not None, question
        return [s.text.split()[0] for s in sentences if speaker.speaks(s)]

    assert spoken("What did Peskov say?") == ["Kremlin"]
    assert spoken("What did Putin say?") == []  # named, never quoted
    assert spoken("What did Pranay Vaddi say?") == ["Pranay", "He"]  # "He" stands for Vaddi
    assert spoken("What did Japan say?") == []
    # Only the bare question: "What did X say about Y?" is often answered in other words; "Islamic State".
    assert asked_speaker("What did Peskov say about the talks?") is None
    assert asked_speaker("What does the Islamic State lack?") is None


def test_what_someone_said_is_quoted_whole(bot: Assistant) -> None:
    # The quotation opens two sentences (and one chunk) before the one that says who said it.
    answer = bot.ask("What did the UN diplomat say?")
    assert_citations_exact(bot, answer)
    [quote] = answer.citations
    assert quote.text.startswith('"Russiaʼs use of North Korean weapons') and quote.text.endswith("said the UN diplomat.")
    assert "It undermines international efforts" in answer.text
    # Whatever the question: a quotation's opening sentence alone would not say who is speaking.
    why = bot.ask("Why is Russia's use of North Korean weapons a problem?")
    assert [c.text for c in why.citations] == [quote.text]


def test_a_quotation_extends_within_its_paragraph_only() -> None:
    from assistant.answer.sentences import split_sentences, whole_quote
    from assistant.core.tuning import AnswerTuning

    quote = partial(whole_quote, reach=AnswerTuning().quote_sentences)
    from assistant.core.types import Passage

    document = 'He said: "Ships came. They left." Nothing else.\n"A new paragraph. It ends," she said.'
    passage = Passage("n1", "a.md", "Quotes", "a.md", "", "", document, 0, len(document))
    sentences = {s.text: s for s in split_sentences([passage])}
    assert quote(sentences['He said: "Ships came.'], document).text == 'He said: "Ships came. They left."'
    assert quote(sentences['They left."'], document).text == 'He said: "Ships came. They left."'
    assert quote(sentences["Nothing else."], document).text == "Nothing else."
    assert quote(sentences['It ends," she said.'], document).text == '"A new paragraph. It ends," she said.'


def test_a_credits_year_does_not_say_when() -> None:
    from assistant.answer.scoring import answer_type_bonus
    from assistant.core.tuning import AnswerTuning

    bonus = partial(answer_type_bonus, tuning=AnswerTuning())

    question = "When were the images taken?"
    assert bonus(question, "Images source: © Getty Images | 2023 Anadolu Agency") < 0  # the licence's year
    assert bonus(question, "Images from September to December show the ships.") > 0


def test_a_sentence_that_defines_the_name_asked_about_ranks_first() -> None:
    from assistant.answer.scoring import answer_type_bonus
    from assistant.core.tuning import AnswerTuning

    bonus = partial(answer_type_bonus, tuning=AnswerTuning())

    defining = bonus("What is RUSI?", "Experts from the Royal Defense Research Institute (RUSI) recorded it.")
    mentioning = bonus("What is RUSI?", "RUSI data is also confirmed by Dossier.")
    assert defining > mentioning
    assert bonus("Who is Pranay Vaddi?", "Pranay Vaddi, the Director for Arms Control, spoke.") > mentioning
    assert bonus("Who is Dmitry Peskov?", "Kremlin spokesperson Dmitry Peskov stated that ...") > 0
    assert bonus("Who is Dmitry Peskov?", "Putin's spokesman later said Dmitry Peskov was ill.") == 0


def test_a_question_about_a_role_is_answered_by_the_sentence_that_names_it(bot: Assistant) -> None:
    answer = bot.ask("What role does Kyrylo Budanov have?")
    assert not answer.abstained and "head of the Ukrainian intelligence Kyrylo Budanov" in answer.text


def test_which_port_prefers_the_sentence_that_names_the_port(bot: Assistant) -> None:
    from assistant.answer.scoring import answer_type_bonus
    from assistant.core.tuning import AnswerTuning

    bonus = partial(answer_type_bonus, tuning=AnswerTuning())

    question = "At which port were the Russian ships loaded?"
    names = bonus(question, "Ships loaded containers at the North Korean port of Najin.")
    assert names > bonus(question, "Photos show the loading of Russian ships in a port in North Korea.")
    first = bot.ask(question).text.split("]. ")[0]
    assert "port of Najin" in first


def test_the_headline_does_not_answer_a_question_that_echoes_it(bot: Assistant) -> None:
    answer = bot.ask("What did the UK say about the images?")
    first = answer.text.split("]. ")[0]
    assert not first.startswith("UK reveals satellite images"), answer.text
    assert "Defense Intelligence" in first
    # The shipped text opens "NewsUK reveals ...": a section label run into the headline is still the headline.
    assert not any("reveals satellite images" in c.text for c in bot.ask("Who revealed satellite images?").citations)


def test_a_request_for_an_overview_cites_the_opening_of_each_document(bot: Assistant) -> None:
    from assistant.core.types import Passage
    from assistant.question.overview import overview_of

    def openings() -> list[Passage] | None:
        return bot.retriever.openings(5)

    for request in ("Summarize the articles", "What are these documents about?", "Give me an overview", "TL;DR"):
        assert overview_of(request, openings) == openings(), request
    for question in (
        "Summarize what the articles say about Oboronlogistika",
        "Who wrote the article?",
        "Who wrote the UK article?",
        "What do both articles say about it?",  # "it" is the subject, from the conversation
    ):
        assert overview_of(question, openings) is None, question
    # One article, named by words of its title: its opening alone.
    uk = bot.ask("Summarize the UK article")
    assert not uk.abstained and {c.doc_id for c in uk.citations} == {UK_DOC}
    assert all(c.start < 1000 for c in uk.citations)
    assert_citations_exact(bot, uk)
    # A summary of a subject is an answer about it: "summarize" is no word the texts must hold.
    subject = bot.ask("Summarize what the articles say about Oboronlogistika")
    assert "Oboronlogistika" in subject.text and not subject.abstained
    answer = bot.ask("What are these articles about?")
    assert not answer.abstained
    assert_citations_exact(bot, answer)
    assert {c.doc_id for c in answer.citations} == {UK_DOC, BRITAIN_DOC}
    assert all(c.start < 1000 for c in answer.citations)  # from the openings, past headline and byline
    assert "Great Britain has provided a group of UN experts with satellite photos" in answer.text
    assert "UK reveals satellite images" not in answer.text
    # An archive is too big for its openings to be an overview: the request is answered like any other.
    assert bot.retriever.openings(1) is None


def test_a_list_items_marker_is_not_quoted(bot: Assistant) -> None:
    answer = bot.ask("What is the DPRK for Russia?")
    assert answer.text.startswith("For Russia, the DPRK is an important ally [1]"), answer.text
    assert_citations_exact(bot, answer)
    assert bot.document_text(BRITAIN_DOC)[answer.citations[0].start - 4 : answer.citations[0].start].strip() == "•"


def test_a_photo_credit_glued_to_a_caption_is_a_sentence_of_its_own() -> None:
    from assistant.answer.sentences import sentence_pieces

    text = "Photos show a port in North Korea.© Ministry of Defense\n• The ships left.NewsUK reveals images."
    assert [text[a:b] for a, b in sentence_pieces(text)] == [
        "Photos show a port in North Korea.",
        "© Ministry of Defense",
        "The ships left.",
        "NewsUK reveals images.",
    ]


def test_a_label_line_is_quoted_with_the_line_below_it() -> None:
    from assistant.answer.sentences import sentence_pieces

    text = "Author:\nLiza Brovko\nDate:\n\nGreat Britain has provided photos."
    assert [text[a:b] for a, b in sentence_pieces(text)] == ["Author:\nLiza Brovko", "Great Britain has provided photos."]


def test_a_question_about_both_articles_cites_each_of_them(bot: Assistant) -> None:
    # "mention" is what the articles do, not a word of theirs: not "the DPRK is not mentioned once".
    for question in (
        "What do both articles say about Oboronlogistika?",
        "Do both articles mention Oboronlogistika?",
        "What does each article say about Oboronlogistika?",  # "each" is no word an answer must hold
    ):
        answer = bot.ask(question)
        assert_citations_exact(bot, answer)
        assert {c.doc_id for c in answer.citations} == {UK_DOC, BRITAIN_DOC}
        assert all("Oboronlogistika" in c.text for c in answer.citations), question
    chat = bot.chat()
    chat.ask("What is Oboronlogistika?")
    follow = chat.ask("What do both articles say about it?")
    assert {c.doc_id for c in follow.citations} == {UK_DOC, BRITAIN_DOC}
    assert all("Oboronlogistika" in c.text for c in follow.citations)
    # "differ", "names" say what to do with the answer, not words it must hold.
    names = bot.ask("How do the two articles differ on the ship names?")
    assert {c.doc_id for c in names.citations} == {UK_DOC, BRITAIN_DOC}
    assert all("Angara" in c.text for c in names.citations), names.text
    # A subject that one title holds ("Russian ships in North Korean ports") does not make it that article's overview.
    ships = bot.ask("What does each article say about the ships?")
    assert {c.doc_id for c in ships.citations} == {UK_DOC, BRITAIN_DOC}
    assert all("ships" in c.text for c in ships.citations), ships.text


def test_the_other_article_is_the_one_the_last_answer_did_not_cite(bot: Assistant) -> None:
    chat = bot.chat()
    assert "Liza Brovko" in chat.ask("Who wrote the article about Britain giving the UN photos?").text
    when = chat.ask("When was the other article published?")
    assert "January 22, 2024" in when.text and {c.doc_id for c in when.citations} == {UK_DOC}
    # Still that article: it has no byline, so not the first article's author.
    assert chat.ask("Who wrote the other one?").abstained
    chat = bot.chat()
    chat.ask("When was the UK article published?")
    assert "Liza Brovko" in chat.ask("Who wrote the other article?").text
    # What the other article says: its opening, as for "Summarize the articles", of that article alone.
    chat = bot.chat()
    chat.ask("What did the UK's Defense Intelligence report include?")
    other = chat.ask("What does the other article say?")
    assert {c.doc_id for c in other.citations} == {BRITAIN_DOC} and all(c.start < 1000 for c in other.citations)
    assert "Great Britain has provided a group of UN experts" in other.text
    # Nothing to be other than; and retrieval ranks passages, it does not number articles.
    questions = ("Who wrote the other article?", "What does the other article say?", "Who wrote the second article?")
    for question in (*questions, "When was the first article published?"):
        assert bot.ask(question).abstained, question


def test_an_article_named_by_its_title_is_the_only_one_quoted(bot: Assistant) -> None:
    from assistant.question.named_article import named_article

    labels = bot.reader.labels
    assert named_article("What does the UK article say about Peskov?", labels).doc_id == UK_DOC
    assert named_article("According to the Britain article, who obtained it?", labels).doc_id == BRITAIN_DOC
    for question in (
        "What does the article say?",  # names none
        "What does the later article say?",  # places one, names none
        "What does the North Korea article say?",  # both titles hold these words
        "Does the UK article agree with the other articles?",  # about several
    ):
        assert named_article(question, labels) is None, question
    # "Britain" is in the title, not in the sentence about Oboronlogistika: it abstained.
    answer = bot.ask("What does the Britain article say about Oboronlogistika?")
    assert "Oboronlogistika" in answer.text and {c.doc_id for c in answer.citations} == {BRITAIN_DOC}
    assert_citations_exact(bot, answer)
    # The ship names as the UK article spells them, not the Britain article's "Maya".
    ships = bot.ask("What are the names of the ships in the UK article?")
    assert "the Maja, Angara, and Maria" in ships.text and {c.doc_id for c in ships.citations} == {UK_DOC}
    summary = bot.ask("Summarize the UK article")
    assert {c.doc_id for c in summary.citations} == {UK_DOC} and all(c.start < 1000 for c in summary.citations)


def test_a_misspelt_word_reads_as_the_corpus_spells_it(bot: Assistant) -> None:
    from assistant.core.tuning import QuestionTuning
    from assistant.question.spelling import Speller

    written = {
        "oboronlogistika": "Oboronlogistika", "playabl": "playable", "tikhoretsk": "Tikhoretsk", "sanction": "sanctions"
    }
    speller = Speller(written, written.get, QuestionTuning())
    assert speller.correct("What is Oboronlogistica?") == "What is Oboronlogistika?"
    assert speller.correct("Is Tikoretsk far?") == "Is Tikhoretsk far?"
    assert speller.correct("Who runs PlayLab?") == "Who runs PlayLab?"  # a name is not corrected to a common word
    assert speller.correct("Was Tikoretsk uninjured?") == "Was Tikhoretsk uninjured?"  # English words stay
    # A lower-case word that is no English word is a typo, of a common word or of a name.
    assert speller.correct("sanctons on tikoretsk") == "sanctions on Tikhoretsk"
    assert "sanctions" in bot.ask("Why were there sanctons on the ships?").text

    answer = bot.ask("What is Oboronlogistica?")
    assert answer.question == "What is Oboronlogistica?" and answer.standalone_question == "What is Oboronlogistika?"
    assert not answer.abstained and "shipping company" in answer.text
    assert bot.ask("Who is the CEO of Apple?").abstained


def test_a_derived_noun_reads_as_the_word_the_corpus_uses(bot: Assistant) -> None:
    from assistant.core.tuning import QuestionTuning
    from assistant.question.spelling import Speller

    written = {"relat": "relations", "partner": "partners", "hard": "hard"}
    speller = Speller(written, written.get, QuestionTuning())
    assert speller.correct("the relationship between them") == "the relations between them"
    assert speller.correct("their partnerships") == "their partners"
    assert speller.correct("economic hardship") == "economic hardship"  # too short a base to be what it is about
    answer = bot.ask("What is the relationship between Russia and North Korea?")
    assert not answer.abstained and "relations" in answer.text, answer.text
