"""Extractive answers: the retrieved sentences that best answer the question, each with its citation.

Deterministic and LLM-free. A sentence's support for the question mixes two views: the IDF-weighted
share of the question's content words it holds (history words count half) and the cosine
similarity of its embedding to the question's (catches "photographed" vs "images"). Small bonuses
go to higher-ranked passages and to sentences holding the kind of thing asked for (a date for
"when", a number for "how many", a name for "which"/"who"). The article's own headline is never quoted:
it names the topic a question echoes rather than answering it. When no sentence gives enough support
the answer abstains.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from lemminflect import getAllLemmas

from assistant.byline import Followed, about_articles, line_asked_for
from assistant.chat import ANAPHORA, is_followup, own_terms
from assistant.focus import NAME_REQUEST, asked_focus
from assistant.quoted import QUOTED_MAX, asks_who_is_quoted, speaks
from assistant.core.text import content_terms, name_terms, sentence_spans, stem
from assistant.core.types import Answer, Citation, Passage
from assistant.index.vectors import Embed

ABSTAIN_TEXT = "The corpus does not answer this question."
MAX_SENTENCES = 3
MORE_SENTENCES = 2  # "Tell me more" goes on with this many sentences of the text around the last answer
CLOSE_TO_BEST = 0.85  # another sentence joins the best when it scores this share of it
# ... or this share when it is the chosen one's neighbour: "in the ship's documents ... the DPRK is not mentioned.
# At the same time, the destination is often indicated as Streletskaya Bay"
NEXT_TO_CHOSEN = 0.7
OPENING_WORDS = 8
SEMANTIC_CANDIDATES = 12  # sentences re-scored with embeddings, chosen by word overlap first
LEXICAL_WEIGHT = 0.55
# A figure, in digits or in words ("three Russian ships", "hundreds of thousands of shells").
FIGURE = (
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundreds?|thousands?|millions?|billions?|dozens?|half|twice)\b"
)
NUMBER = re.compile(FIGURE, re.IGNORECASE)
# "How many containers were loaded?": the thing counted, which the figure should be a count of.
COUNTED = re.compile(
    r"\bhow\s+(?:many|much)\s+(?:[\w-]+\s+){0,2}?([a-z]+)\s+(?:is|are|was|were|did|does|do|has|have|had)\b",
    re.IGNORECASE,
)
# A date's figures are no count: "on January 2" does not answer "how many".
DATED = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{1,2}\b"
    r"|\b\d{1,2}\s+(?=January|February|March|April|May|June|July|August|September|October|November|December)"
    r"|\b(?:1[89]|20)\d\d\b"
)
DATE = re.compile(
    r"\b(\d{4}|January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|last (week|month|year))\b",
    re.IGNORECASE,
)
# Verbs a text says otherwise ("give" is "has provided", "take" is "captured"): a sentence's score
# weighs them at most this much, though the passages must still hold them to lower the bar for answering.
# "gave", "took" read as these; "call" is "stated ... is"; "go" is "transiting to", "the end point of the route";
# "What happened in September?" asks for September's events, not for a sentence that says "happening"; "Which
# ships were involved?" for the ships, not for "known for its involvement".
LIGHT_VERBS = frozenset(content_terms("give given get make take put keep send bring call go happen occur involve"))
LIGHT_IDF = 0.5
# A photo credit: "Images source: © Getty Images | 2023 Anadolu Agency".
CREDIT = re.compile(r"©|\b(?:images?|photos?|pictures?)\s+(?:source|credits?)\s*:", re.IGNORECASE)
# "..., and when ...", "... and who ...": a second question joined to the first.
WH_WORD = r"(?:who|what|when|where|which|how|why)\b"
COMPOUND = re.compile(rf"(?:,\s*|\s+)and\s+(?={WH_WORD})", re.IGNORECASE)
# "Where and when were ...?", "Who took the photos, and when?": a part that is only its question word.
LONE_WH = re.compile(rf"\s*{WH_WORD}\W*$", re.IGNORECASE)
NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'ʼ-]+")
# "... in North Korea.© Ministry of Defense", "... forces.NewsUK reveals": a sentence end with no space after it.
GLUED = re.compile(r"(?<=[a-z)\"”][.!?])(?=[©A-Z])")
# "Author:" with the name on the line below: one sentence, so the name is quoted with what it is.
LABEL = re.compile(r"[A-Z][\w ]{0,24}:")
# A list item's marker is not part of the sentence quoted ("• For Russia, the DPRK is ...").
BULLET = re.compile(r"^(?:[•▪◦‣●○■□►*·]|[-–—](?=\s))\s*")
# "What do both articles say about ...?": every document that answers gets its say.
EACH_DOCUMENT = re.compile(
    r"\b(?:both|each|all|every|the two)\s+(?:of\s+the\s+)?"
    r"(?:articles?|reports?|sources?|documents?|stories|outlets?|texts?)\b"
    r"|\bcompar|\bdiffer|\b(?:dis)?agree(?:s|d)?\b|\bcontrast"
    # "Tell me about X": what the corpus says about it, wherever it does
    r"|^\s*(?:tell\s+me\s+(?:more\s+)?about|what\s+do\s+you\s+know\s+about|describe)\b",
    re.IGNORECASE,
)
# A sentence that opens with a pronoun, which stands for a name in the sentence before.
PRONOUN_FIRST = re.compile(r"(?:He|She|They|His|Her|Their)\b")
# "Why?", "How so?" (a reason or a manner; "how many" asks for a figure).
BARE_WHY = re.compile(r"\s*(?:why|how)\b(?!\s+(?:many|much|long|far|old|often)\b)", re.IGNORECASE)
# "the names of", "Name ...", "compare", "how far": what kind of answer is asked for, not words the answer holds
# ("the ships named in the report").
ASKED_FORM = re.compile(
    rf"\bnames?\b(?:\s+of\b)?|{NAME_REQUEST}\b"
    r"|\b(?:compared?|comparing|comparison|differ|differs|differences?|(?:dis)?agree[sd]?|contrast)\b"
    # "Do both articles mention X?": what the texts do, not a word of theirs ("the DPRK is not mentioned");
    # "Summarize what they say about X": what to do with the answer (but "the Summary for Policymakers" is a name)
    r"|\b(?:mention(?:s|ed|ing)?|discuss(?:es|ed|ing)?|summari[sz]e[sd]?|(?-i:summar(?:y|ies)|overview|gist))\b"
    r"|\btwo\s+(?:articles?|reports?|stories|documents?|texts?|sources?)\b"
    # "How far ...?" asks for a distance, whatever else is far ("the Far East")
    r"|\bhow\s+far\b"
    r"|\b(?:stands?|short)\s+for\b",  # "What does RUSI stand for?": not "North Korea stands accused"
    re.I,
)
# "Who is Pranay Vaddi?", "What is RUSI?", "What position does Pranay Vaddi hold?": a sentence that
# defines the name answers it.
ASKED_NAME = r"(?P<name>[A-Z][\w.'ʼ-]*(?:\s+[A-Z][\w.'ʼ-]*){0,3})"
DEFINITION_ASKED = (
    re.compile(rf"^(?i:what|who)\s+(?i:is|are|was|were)\s+(?:the\s+)?{ASKED_NAME}\s*\??$"),
    re.compile(rf"^(?i:tell\s+me\s+about|what\s+do\s+you\s+know\s+about|describe)\s+(?:the\s+)?{ASKED_NAME}\s*[.?!]?$"),
    re.compile(
        rf"^(?i:what)\s+(?i:position|role|job|title|post)\s+(?i:does|did)\s+{ASKED_NAME}\s+(?i:hold|have)\s*\??$"
    ),
)
# An acronym: "What does RUSI stand for?", "What is RUSI short for?": only its expansion answers.
ACRONYM = rf"(?:the\s+)?(?i:(?:acronym|abbreviation)\s+)?[\"“']?{ASKED_NAME}[\"”']?"
ACRONYM_ASKED = (
    re.compile(rf"^(?i:what)\s+(?i:does|do|did)\s+{ACRONYM}\s+(?i:stand\s+for)\s*\??$"),
    re.compile(rf"^(?i:what)\s+(?i:is|was)\s+{ACRONYM}\s+(?i:short\s+for)\s*\??$"),
)
ROLES = (
    "spokesperson|spokesman|spokeswoman|minister|president|director|head|chief|leader|ambassador|secretary|"
    "analyst|officer|general|commander|chairman|chairwoman|founder|prosecutor|envoy|diplomat|adviser|advisor"
)
# "What did Peskov say?": a sentence where that speaker says something ("Peskov stated", "said the UN
# diplomat", "according to the White House ..."), not one that only mentions Peskov. Only the bare question:
# "What did X say about Y?" is often answered by a sentence that quotes X in other words (SQuAD dev).
SPEECH_ASKED = r"(?:say|state|announce|claim|write|report|declare)"  # in "What did X say?"
SPEAKER_ASKED = re.compile(
    r"^\s*(?i:what)\s+(?i:did|does|do|has|have|had)\s+(?:(?i:the)\s+)?[\"“']?(?P<name>[A-Z][\w.'ʼ-]*(?:\s+[A-Z][\w.'ʼ-]*){0,4})"
    rf"[\"”']?\s+{SPEECH_ASKED}\s*\??$"  # lower case: "Islamic State"
)
# "What did Peskov say about the satellite photos?": a sentence where Peskov speaks of something else is no answer.
TOPIC_ASKED = re.compile(
    rf"^\s*what\s+(?:did|does|do|has|have|had)\s+(?P<who>\S.*?)\s+{SPEECH_ASKED}\s+about\s+(?P<topic>.+?)\??\s*$",
    re.IGNORECASE,
)
TOPIC_COSINE = 0.2  # "the images" and "... includes photos": 0.35; "the satellite photos" and Peskov on talks: 0.15
# "What was the meeting about?", "What was discussed at the meeting in Moscow?", "the purpose of the talks":
# what an event was about, which the sentence naming the event often leaves to the one after it.
PURPOSE_ASKED = re.compile(
    r"^\s*what\s+(?:is|are|was|were)\b.*\babout\s*\??\s*$|^\s*what\s+(?:is|are|was|were)\s+(?:being\s+)?discussed\b"
    r"|^\s*what\s+(?:did|do|does|will)\b.*\bdiscuss\s*\??\s*$"
    r"|^\s*what\s+(?:is|are|was|were)\s+(?:the\s+)?(?:\w+\s+)?(?:purpose|aim|goal|agenda|subject)s?\s+of\b",
    re.IGNORECASE,
)
# What a sentence says an event was for: "the talks aimed to foster", "a meeting to strengthen" (not "to North Korea").
PURPOSE = re.compile(
    r"\b(?i:about|discuss\w*|aim\w*|purpose\w*|goals?|agenda|focus\w*|topics?)\b|\b(?i:to)\s+(?!the\b|a\b|an\b)[a-z]+\b"
)
QUOTE_MARKS = '"“”«»'
QUOTE_SENTENCES = 4  # a quotation is sought at most this many sentences away
SPEECH = (
    r"(?:say|says|said|state|states|stated|statement|announce[sd]?|tell|tells|told|claim(?:s|ed)?|warn(?:s|ed|ing)?|"
    r"write|writes|wrote|written|explain(?:s|ed)?|declare[sd]?|report(?:s|ed)?|note[sd]?|add(?:s|ed)|argue[sd]?|"
    r"confirm(?:s|ed)?|den(?:y|ies|ied)|call(?:s|ed)|describe[sd]?|urge[sd]?|suggest(?:s|ed)?|insist(?:s|ed)?)"
)
SAYS = re.compile(rf"\b{SPEECH}\b", re.IGNORECASE)
DEFINES = 0.15  # the bonus for a sentence that defines the name asked about; it counts as support too


@dataclass(frozen=True)
class Sentence:
    passage: Passage
    rank: int
    start: int  # in the document
    end: int
    text: str
    terms: frozenset[str]
    # "He issued a warning ...": the names of the sentence before, whom the opening pronoun stands for.
    inherited: frozenset[str] = frozenset()
    before: frozenset[str] = frozenset()  # the words of the sentence before it in its passage

    @property
    def about(self) -> frozenset[str]:
        return self.terms | self.inherited

    @property
    def span(self) -> tuple[str, int, int]:
        """(doc_id, start, end): where it is quoted from, as citations and `Scope.exclude` name it."""
        return self.passage.doc_id, self.start, self.end

    def overlaps(self, span: tuple[str, int, int]) -> bool:
        doc_id, start, end = span
        return self.passage.doc_id == doc_id and self.start < end and start < self.end


@dataclass(frozen=True)
class Scored:
    sentence: Sentence
    score: float  # for ranking: support plus bonuses
    support: float  # for abstaining: how well the sentence matches the question
    matched: frozenset[str]


@dataclass(frozen=True)
class Scope:
    """What an answer draws on besides the question's passages: `overview`, the passages are the documents'
    openings and the question asks what they are about; `exclude`, (doc_id, start, end) of what the
    conversation quoted since the question that "Tell me more" follows, which it does not want again; `last`,
    what the last turn was about, which "the other article" is not; `around`, the text "Tell me more" may go on
    with when nothing new reaches the bar."""

    overview: bool = False
    exclude: frozenset[tuple[str, int, int]] = frozenset()
    last: Followed = Followed()
    around: Sequence[Passage] = ()  # the chunks that hold what `exclude` names, and their neighbours


class TermWeights:
    """IDF from the keyword index's document frequencies; unseen words weigh the most."""

    def __init__(self, df: dict[str, int], n_chunks: int) -> None:
        self.df = df
        self.n = max(n_chunks, 1)

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))


def sentence_pieces(text: str) -> Iterator[tuple[int, int]]:
    """The sentence spans of a passage, also split where no space follows a sentence's end, less a list
    item's bullet; a label line ("Author:") joins the line below it, and alone is no sentence."""
    label = None  # start of a label line ("Author:") whose value is on the next line
    for start, end in sentence_spans(text):
        if label is not None and text[label:start].count("\n") == 1:
            start = label
        label = start if LABEL.fullmatch(text, start, end) else None
        if label is not None:
            continue
        cuts = [start, *(m.start() for m in GLUED.finditer(text, start, end)), end]
        for a, b in zip(cuts, cuts[1:]):
            piece = BULLET.sub("", text[a:b], count=1)
            yield b - len(piece), b


def split_sentences(passages: Sequence[Passage]) -> list[Sentence]:
    seen: set[str] = set()
    out: list[Sentence] = []
    for rank, passage in enumerate(passages):
        before, before_terms = "", frozenset[str]()  # the sentence before: whom an opening "He" stands for
        for start, end in sentence_pieces(passage.text):
            text = passage.text[start:end]
            key = " ".join(text.lower().split())
            terms = frozenset(content_terms(text))
            inherited = frozenset()
            if PRONOUN_FIRST.match(text):
                inherited = name_terms(before)
            previous_terms, before, before_terms = before_terms, text, terms
            if key in seen or not terms or key.endswith("?") or is_headline(text, passage.title):
                # Repeated captions, lone punctuation, questions (subheadings), and the headline, which every
                # citation shows already and which echoes a question more often than it answers one.
                continue
            seen.add(key)
            out.append(
                Sentence(passage, rank, passage.start + start, passage.start + end, text, terms, inherited, previous_terms)
            )
    return out


def answer_type_bonus(question: str, sentence: str, defines: bool | None = None) -> float:
    """Reward the kind of thing asked for; penalise its absence where the kind is unmistakable. `defines`:
    whether the sentence defines the name asked about, when the caller has already found out."""
    q = question.lower()
    if q.startswith("when") or re.search(r"\b(what|which) (date|day|month|year)\b", q):
        return 0.08 if states_a_date(sentence) else -0.1
    if re.search(r"\bhow (many|much|far|long|old)\b|\bwhat (number|percentage|share)\b", q):
        figures = DATED.sub(" ", sentence)
        if not NUMBER.search(figures):
            return -0.1
        counted = COUNTED.search(question)
        if counted is None:
            return 0.08
        # "three Russian ships ... loading containers" holds a figure, but not one of containers.
        word = counted.group(1).lower()
        prefix = os.path.commonprefix([word, stem(word)])
        return 0.08 if re.search(rf"(?i:(?:{FIGURE})[\w,.]*\s+(?:[\w'ʼ-]+\s+){{0,2}}?{prefix})", figures) else 0.02
    if defines is None:
        defines = defines_asked_name(question, sentence)
    if defines:
        return DEFINES  # outranks a shorter sentence that merely mentions the name
    named = asked_focus(question)
    if named and named.search(sentence):
        return 0.08
    if re.match(r"(who|which|what|where)\b", q):
        asked = {w.lower() for w in re.findall(r"\w+", question)}
        return 0.04 if any(m.group(0).lower() not in asked for m in NAME.finditer(sentence)) else 0.0
    return 0.0


def with_named_focus(question: str, picked: list[Scored], scored: Sequence[Scored], min_support: float) -> list[Scored]:
    """An answer to "Which ships were photographed?" that names none ("photos of Russian ships") also gets the
    best supported sentence that does ("three Russian ships, the Maya, Angara and Maria"), however far behind."""
    named = asked_focus(question)
    if not picked or named is None or len(picked) == MAX_SENTENCES:
        return picked
    if any(named.search(s.sentence.text) for s in picked):
        return picked
    naming = next((s for s in scored if s.support >= min_support and named.search(s.sentence.text)), None)
    return picked + [naming] if naming else picked


def with_purpose(question: str, picked: list[Scored], sentences: Sequence[Sentence]) -> list[Scored]:
    """An answer to "What was the meeting about?" that only says the meeting took place ("Putin met with ...
    Choe Son-hui at the Kremlin") also gets the sentence right after it when that one says what it was for
    ("... the talks aimed to foster ...")."""
    if not picked or not PURPOSE_ASKED.search(question) or PURPOSE.search(picked[0].sentence.text):
        return picked
    first = picked[0].sentence
    after = next((s for s in sentences if s.start > first.start and adjacent(first, s)), None)
    if after is None or not PURPOSE.search(after.text) or any(after.overlaps(x.sentence.span) for x in picked):
        return picked
    return [picked[0], Scored(after, picked[0].score, picked[0].support, frozenset()), *picked[1:]][:MAX_SENTENCES]


def states_a_date(sentence: str) -> bool:
    # A credit's year ("© Getty Images | 2023") dates the licence, not what the picture shows.
    return bool(DATE.search(sentence)) and not CREDIT.search(sentence)


def defines_asked_name(question: str, sentence: str) -> bool:
    """'Pranay Vaddi, the Director for ...', '... Institute (RUSI)', 'Kremlin spokesperson Dmitry Peskov' for
    'Who is Pranay Vaddi?', 'What is RUSI?', 'Who is Dmitry Peskov?'."""
    defines = definition_of_asked_name(question)
    return bool(defines and defines.search(sentence))


def asked_name(question: str, patterns: Sequence[re.Pattern[str]]) -> str | None:
    """The name that the first of `patterns` to match the question asks about."""
    typed = question.strip()
    # Typed all in lower case ("who is pranay vaddi"): its words may be the name; names match in any case.
    typed = typed.title() if typed == typed.lower() else typed
    asked = next((m for m in (p.match(typed) for p in patterns) if m), None)
    return asked.group("name") if asked else None


def any_case(name: str) -> str:
    return rf"(?i:{re.escape(name)})"


@lru_cache(maxsize=256)
def expansion_of_asked_acronym(question: str) -> re.Pattern[str] | None:
    """'... Institute (RUSI)', '(or RUSI)', 'RUSI (Royal United ...)', 'RUSI or Royal United ...', 'RUSI stands
    for ...' for 'What does RUSI stand for?'; None when the question asks for no acronym's expansion."""
    asked = asked_name(question, ACRONYM_ASKED)
    if asked is None:
        return None
    name = any_case(asked.rstrip("."))
    says = r"(?:stands?|stood|is\s+short|(?:is|was)\s+an?\s+(?:acronym|abbreviation))\s+(?:for|of)\b"
    return re.compile(
        rf"\(\s*(?:or\s+)?{name}\s*\)|\b{name}[\"”']?\s*\(\s*[\"“']?[A-Z]|\b{name},?\s+or\s+(?:the\s+)?[A-Z]\w*\s+[A-Z]"
        # "NATO stands for ...", or further on when a name follows: '"TGIF" block (which ... stood for "Thank ...'
        rf"|\b{name}[\"”']?\s+{says}|\b{name}\b[^.]{{0,45}}?\b{says}\s+[\"“']?[A-Z]"
    )


@lru_cache(maxsize=256)
def definition_of_asked_name(question: str) -> re.Pattern[str] | None:
    """What a sentence that defines the name the question asks about looks like; None when it asks no such
    thing. Once per question, as every candidate sentence is tried against it."""
    asked = asked_name(question, (*DEFINITION_ASKED, *ACRONYM_ASKED))
    if asked is None:
        return None
    name = any_case(asked.rstrip("."))  # "Tell me about RUSI."
    return re.compile(
        rf"\({name}\)|\b{name},\s+(?:the|a|an)\b|\b{name}\s+(?:is|are|was|were)\s+(?:the|a|an)\b"
        # "Kremlin spokesperson Dmitry Peskov", "the head of the Ukrainian intelligence Kyrylo Budanov"
        rf"|\b(?:{ROLES})(?:\s+(?:of|for|at)(?:\s+[\w'ʼ-]+){{1,4}}?)?\s+{name}\b"
    )


def is_headline(sentence: str, title: str) -> bool:
    """'UK reveals satellite images.' within 'UK reveals satellite images. Russian ships in ...'; also
    'NewsUK reveals satellite images.', where a section label ran into the headline's first word."""
    words = re.findall(r"\w+", sentence.lower())
    title_words = " " + " ".join(re.findall(r"\w+", title.lower())) + " "
    if not words:
        return False
    if " " + " ".join(words) + " " in title_words:
        return True
    glued = re.search(r" (\w+) " + re.escape(" ".join(words[1:])) + " ", title_words) if len(words) > 1 else None
    return bool(glued and words[0].endswith(glued.group(1)))


@dataclass(frozen=True)
class Speaker:
    """The one whose words the question asks for: `named` matches their name, `said` a sentence in which they
    say something; `terms` are their name's words."""

    named: re.Pattern[str]
    said: re.Pattern[str]
    terms: frozenset[str]

    def speaks(self, sentence: Sentence) -> bool:
        """`said` matches; or the sentence opens with "He", "She" or "They" standing for the name in the
        sentence before, and says something ("He issued a warning ..." after "Pranay Vaddi, the ...")."""
        if self.said.search(sentence.text):
            return True
        return self.terms <= sentence.inherited and bool(SAYS.search(sentence.text))


@lru_cache(maxsize=256)
def asked_speaker(question: str) -> Speaker | None:
    """Whose words the question asks for ("What did Peskov say?"); None when it asks for no one's."""
    asked = asked_name(question, (SPEAKER_ASKED,))
    if asked is None:
        return None
    name = any_case(asked)
    said = re.compile(
        rf"\b{name}\b[^.!?]{{0,80}}?\b{SPEECH}\b"
        rf"|\b(?:said|says|according\s+to|(?:stated|written|reported|told)\s+by|(?:report|statement)\s+(?:from|by))\b"
        rf"[^.!?]{{0,100}}?\b{name}\b",
        re.IGNORECASE,
    )
    return Speaker(re.compile(rf"\b{name}\b"), said, frozenset(content_terms(asked)))


def asked_terms(question: str) -> set[str]:
    return set(content_terms(ASKED_FORM.sub(" ", question)))


AUXILIARY = frozenset("is are was were did does do has have had will would can could".split())


@lru_cache(maxsize=256)
def asked_kind(question: str) -> frozenset[str]:
    """The term of the kind of thing asked for, the noun before the verb: "Which newspaper obtained ...?" ->
    {newspap}, "Which Chinese ports did ...?" -> {port}; empty when the question names no kind."""
    match = re.match(r"\s*(?:\w+\s+)?(?:which|what)\s+((?:[a-z-]+\s+){0,3})", question, re.I)
    words = match.group(1).lower().split() if match else []
    for noun, word in zip(words, words[1:]):
        # A past form ("obtained", "took") or an auxiliary; not a plural noun that could be a verb ("ports").
        lemmas = getAllLemmas(word)
        if word in AUXILIARY or ("VERB" in lemmas and word not in lemmas["VERB"] and "NOUN" not in lemmas):
            return frozenset(content_terms(noun))
    return frozenset()


def light_terms(question: str, weights: TermWeights) -> frozenset[str]:
    """The question's words that weigh little: LIGHT_VERBS, and the kind of thing asked for when the corpus never
    uses that word ("Which newspaper obtained the report?" is answered by 'obtained by "The Guardian"')."""
    return LIGHT_VERBS | {t for t in asked_kind(question) if not weights.df.get(t)}


def coverage_of(
    terms: set[str], weights: TermWeights, light: frozenset[str] = frozenset()
) -> Callable[[frozenset[str]], float]:
    """IDF-weighted share of `terms` that a sentence holds; `light` terms weigh little, and no more than the
    question's lightest other word ("Who took the photos?" is about photos, however common)."""
    idf = {t: weights.idf(t) for t in terms}
    cap = min([LIGHT_IDF, *(v for t, v in idf.items() if t not in light)])
    idf = {t: min(v, cap) if t in light else v for t, v in idf.items()}
    total = sum(idf.values())
    return lambda found: sum(idf[t] for t in found & idf.keys()) / total if total else 0.0


def score_sentences(
    question: str, context: str, sentences: Sequence[Sentence], weights: TermWeights, embed: Embed
) -> list[Scored]:
    question_terms = asked_terms(question)
    history_terms = set(content_terms(context)) - question_terms
    if not (question_terms or history_terms) or not sentences:
        return []
    of_question = coverage_of(question_terms, weights, light_terms(question, weights))
    of_history = coverage_of(history_terms, weights)
    # The question's own words lead; the history only says what "they" or "it" refer to.
    history_share = 0.0 if not history_terms else (0.3 if question_terms else 1.0)
    lexical: list[tuple[float, Sentence, float]] = []
    for sentence in sentences:
        about = sentence.about
        own = of_question(about)
        coverage = (1 - history_share) * own + history_share * of_history(about)
        lexical.append((coverage, sentence, own))
    lexical.sort(key=lambda item: (-item[0], item[1].rank, item[1].start))
    candidates = lexical[:SEMANTIC_CANDIDATES]
    # Also give each of the top passages' sentences a chance when their words differ from the question's, and
    # a sentence that defines the name asked about wherever it is ("alternating current (AC)" for "What does AC
    # stand for?", among many that only use "AC").
    candidates += [
        item for item in lexical[SEMANTIC_CANDIDATES:] if item[1].rank < 2 or defines_asked_name(question, item[1].text)
    ]
    # A follow-up is compared both alone and with its history; the closer of the two counts.
    queries = [question] + ([f"{context} {question}"] if context else [])
    vectors = embed(queries + [c[1].text for c in candidates])
    cosines = (vectors[len(queries) :] @ vectors[: len(queries)].T).max(axis=1)
    scored = []
    for (coverage, sentence, own), cosine in zip(candidates, cosines):
        semantic = (1 - LEXICAL_WEIGHT) * max(float(cosine), 0.0)
        defines = defines_asked_name(question, sentence.text)
        bonus = answer_type_bonus(question, sentence.text, defines) + 0.03 / (1 + sentence.rank)
        matched = sentence.about & (question_terms | history_terms)
        # Ranking uses the history; support does not hold it against a follow-up that answers its own words.
        support = LEXICAL_WEIGHT * max(coverage, own) + semantic + min(bonus, 0.0)
        if defines:
            support += DEFINES  # "Who is X?" is answered by "X, the ...", whatever else the sentence says
        scored.append(Scored(sentence, LEXICAL_WEIGHT * coverage + semantic + bonus, support, matched))
    scored.sort(key=lambda s: (-s.score, s.sentence.rank, s.sentence.start))
    return scored


def asks_when_of(question: str, context: str) -> bool:
    """A "when" in a conversation with no words of its own ("When did he say that?", "When?")."""
    return bool(context) and not own_terms(question) and question.lower().startswith("when")


def antecedent_date(context: str, sentences: Sequence[Sentence]) -> Sentence | None:
    """The last answer quoted "He issued a warning ...", which has no date: the dated sentence the "He" stands
    for ("Pranay Vaddi ... stated last week ..."), just before it, says when."""
    quoted = " ".join(context.split())
    for earlier, sentence in zip(sentences, sentences[1:]):
        if (
            earlier.passage is sentence.passage
            and PRONOUN_FIRST.match(sentence.text)
            and " ".join(sentence.text.split()) in quoted
            and not states_a_date(sentence.text)
            and states_a_date(earlier.text)
        ):
            return earlier
    return None


def answering_kind(
    question: str, context: str, question_context: str, scored: list[Scored], named: frozenset[str] = frozenset()
) -> list[Scored]:
    """The scored sentences that can answer the kind of question asked, whatever their words share with it;
    `named`: the names the last answer quoted, which "they" may stand for too ("the Maja, Angara, and Maria")."""
    if asks_when_of(question, context):
        # "When did he say it?" about a sentence without a date: the date, if any, is in another one.
        scored = [x for x in scored if states_a_date(x.sentence.text)]
    if context and ANAPHORA.search(question):
        # "What did they carry?" about the ships: not "attacks were carried out" in a passage about
        # neither. The sentence, or the one it follows, names something the conversation was about.
        earlier = (set(content_terms(question_context)) | named) - asked_terms(question)
        scored = [x for x in scored if (x.sentence.about | x.sentence.before) & earlier]
    speaker = asked_speaker(question)
    if speaker and any(speaker.named.search(x.sentence.text) for x in scored):
        # Only when the passages use the name as asked: "Washington" may be what they call "the US".
        scored = [x for x in scored if speaker.speaks(x.sentence)]
    kind = asked_kind(question)
    if kind:
        # "Which minister visited Najin?": the best sentence only names a minister, and says nothing of the visit.
        empty = kind | LIGHT_VERBS  # matching only these says nothing of what is asked
        if scored and not scored[0].matched - empty and asked_terms(question) - empty:
            scored = [x for x in scored if x.matched - empty]
    expansion = expansion_of_asked_acronym(question)
    if expansion:
        scored = [x for x in scored if expansion.search(x.sentence.text)]
    return scored


def on_topic(question: str, scored: list[Scored], embed: Embed) -> list[Scored]:
    """For "What did X say about Y?", the sentences that name X (or follow one that does) and hold a word of Y
    or come close to it in meaning ("the images": "includes photos"); all of them for any other question."""
    asked = TOPIC_ASKED.match(question)
    if not asked or not scored:
        return scored
    who, topic = set(content_terms(asked["who"])), set(content_terms(asked["topic"]))
    if not topic:
        return scored  # "What do both articles say about it?": the history says what "it" is
    # Only when the passages name X as asked: "Washington" may be what they call "the US"; "both articles".
    scored = [x for x in scored if who & (x.sentence.about | x.sentence.before)] or scored
    vectors = embed([asked["topic"]] + [x.sentence.text for x in scored])
    cosines = vectors[1:] @ vectors[0]
    return [x for x, cosine in zip(scored, cosines) if topic & x.sentence.about or cosine >= TOPIC_COSINE]


def adjacent(a: Sentence, b: Sentence) -> bool:
    """`a` and `b` are neighbours in one paragraph of one passage (in either order)."""
    if a.passage is not b.passage:
        return False
    first, second = (a, b) if a.start < b.start else (b, a)
    gap = a.passage.text[first.end - a.passage.start : second.start - a.passage.start]
    return not gap.strip() and "\n" not in gap


def choose(scored: Sequence[Scored], min_support: float, each_document: bool = False) -> list[Scored]:
    """1-3 sentences: the best, then others close to it that add a new matched word or document; with
    `each_document`, the best supported sentence of every other document too, however far behind."""
    if not scored or scored[0].support < min_support:
        return []
    best = scored[0]
    chosen = [best]
    covered = set(best.matched)
    docs = {best.sentence.passage.doc_id}
    for candidate in scored[1:]:
        if len(chosen) == MAX_SENTENCES:
            break
        new_doc = candidate.sentence.passage.doc_id not in docs
        close = NEXT_TO_CHOSEN if any(adjacent(candidate.sentence, c.sentence) for c in chosen) else CLOSE_TO_BEST
        if candidate.score < close * best.score:
            if not each_document:
                break  # the rest score lower still
            if not new_doc:
                continue
        if candidate.support < min_support:
            continue
        if new_doc or candidate.matched - covered:
            chosen.append(candidate)
            covered |= candidate.matched
            docs.add(candidate.sentence.passage.doc_id)
    return chosen


def quote_marks(text: str) -> int:
    """Double quotation marks; an odd count leaves a quotation open (or closes one opened before)."""
    return sum(text.count(mark) for mark in QUOTE_MARKS)


def whole_quote(sentence: Sentence, document: str) -> Sentence:
    """The sentence with the rest of the quotation it opens or closes, within its paragraph of `document` (which
    may begin in the chunk before): the end of '"Russia's use ... resolutions. It undermines ... This and other
    evidence ...," said the UN diplomat.'"""
    if quote_marks(sentence.text) % 2 == 0:
        return sentence
    top = document.rfind("\n", 0, sentence.start) + 1
    bottom = document.find("\n", sentence.end)
    bottom = len(document) if bottom < 0 else bottom
    spans = [(top + a, top + b) for a, b in sentence_pieces(document[top:bottom])]
    if (sentence.start, sentence.end) not in spans:
        return sentence  # the passage began inside this sentence
    here = spans.index((sentence.start, sentence.end))
    # An odd count of marks before it: the quotation opened in a sentence before; else it closes in one after.
    if quote_marks(document[top : sentence.start]) % 2:
        others = spans[max(here - QUOTE_SENTENCES, 0) : here][::-1]
    else:
        others = spans[here + 1 : here + 1 + QUOTE_SENTENCES]
    for start, end in others:
        if quote_marks(document[start:end]) % 2:
            start, end = min(start, sentence.start), max(end, sentence.end)
            return replace(sentence, start=start, end=end, text=document[start:end])
    return sentence


def continuation(scope: Scope, context: str, document_text: Callable[[str], str]) -> list[Scored]:
    """"Tell me more" when no new sentence reaches the bar: the unquoted rest of a paragraph the conversation
    quoted from ("Putin met with ... Choe Son-hui" before Peskov's words on "the talks"), else a sentence right
    before or after a quoted one that names something the conversation was about; at most MORE_SENTENCES, in
    reading order."""
    earlier = set(content_terms(context))
    near: list[tuple[bool, int, Sentence]] = []
    for sentence in split_sentences(scope.around):
        document = document_text(sentence.passage.doc_id)
        sentence = whole_quote(sentence, document)
        if any(sentence.overlaps(span) for span in scope.exclude):
            continue
        for doc_id, start, end in scope.exclude:
            if doc_id != sentence.passage.doc_id:
                continue
            gap = document[min(sentence.end, end) : max(sentence.start, start)]
            if "\n" not in gap or (not gap.strip() and sentence.about & earlier):
                near.append(("\n" in gap, len(gap), sentence))
    chosen: list[Sentence] = []
    for _, _, sentence in sorted(near, key=lambda item: item[:2]):
        if len(chosen) < MORE_SENTENCES and not any(sentence.overlaps(c.span) for c in chosen):
            chosen.append(sentence)
    return [Scored(s, 0.0, 0.0, frozenset()) for s in sorted(chosen, key=lambda s: s.start)]


def split_question(question: str) -> list[str]:
    """'Who is X, and when did Y?' -> ['Who is X', 'when did Y?']: each part is answered on its own. A part
    that is only its question word asks it of the rest of another: 'Where and when were the ships photographed?'
    -> ['Where were the ships photographed?', 'when were the ships photographed?']."""
    parts = [p.strip(" ,;") for p in COMPOUND.split(question) if p and p.strip(" ,;")]
    full = next((p for p in parts if not LONE_WH.match(p)), "")
    body = re.sub(rf"^\s*{WH_WORD}", "", full, flags=re.IGNORECASE)
    parts = [f"{p.strip(' ?')}{body}" if LONE_WH.match(p) else p for p in parts]
    return parts if len(parts) > 1 and all(len(content_terms(p)) >= 1 for p in parts) else [question]


def with_marker(sentence: str, markers: str) -> str:
    """'... of Najin.' -> '... of Najin [1].'; a closing quote stays with its words: '"unprecedented" [1].'"""
    sentence = sentence.rstrip()
    body = sentence.rstrip("\"'”’)]")
    closers = sentence[len(body) :]
    if body and body[-1] in ".!?" and not body.endswith("..."):
        return f"{body[:-1]}{closers} {markers}{body[-1]}"
    return f"{sentence} {markers}."


def compose(question: str, chosen: Sequence[Scored], retrieved: list[Passage]) -> Answer:
    citations: list[Citation] = []
    numbers: dict[tuple[str, int, int], int] = {}
    parts: list[str] = []
    for item in chosen:
        s = item.sentence
        key = s.span
        if key not in numbers:
            numbers[key] = len(citations) + 1
            citations.append(Citation.quoting(numbers[key], s.passage, s.text, s.start, s.end))
        parts.append(with_marker(" ".join(s.text.split()), f"[{numbers[key]}]"))
    return Answer(question=question, text=" ".join(parts), citations=citations, retrieved=retrieved)


def opening_sentences(openings: Sequence[Passage]) -> list[Scored]:
    """The first sentences of each document that say something: not its headline, byline, dateline or photo
    credit (fewer than OPENING_WORDS words); more of each when there are few documents."""
    per_document = max(1, min(MAX_SENTENCES, 4 // max(len(openings), 1)))
    chosen: list[Scored] = []
    for passage in openings:
        sentences = [
            s
            for s in split_sentences([passage])
            if len(re.findall(r"[^\W\d]\w*", s.text)) >= OPENING_WORDS
        ]
        chosen += [Scored(s, 1.0, 1.0, s.terms) for s in sentences[:per_document]]
    return chosen


def abstain(question: str, retrieved: list[Passage]) -> Answer:
    return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, retrieved=retrieved)


@dataclass(frozen=True)
class Abstention:
    """Answer when the best sentence's support reaches `support`; or `covered_support` when the retrieved
    passages together hold `coverage` of the question's words (IDF-weighted), as a question that spans
    several articles is answered across passages and no one sentence matches all of it."""

    support: float
    covered_support: float
    coverage: float

    def min_support(self, question: str, passage_terms: frozenset[str], weights: TermWeights) -> float:
        covered = coverage_of(asked_terms(question), weights, light_terms(question, weights))(passage_terms)
        return self.covered_support if covered >= self.coverage else self.support


class ExtractiveAnswerer:
    mode = "extractive"

    def __init__(
        self, weights: TermWeights, embed: Embed, abstention: Abstention, document_text: Callable[[str], str]
    ) -> None:
        self.document_text = document_text  # doc_id -> its text: a quotation may begin in the chunk before
        self.weights = weights
        self.embed = embed
        self.abstention = abstention

    def answer(self, question: str, context: str, passages: list[Passage], scope: Scope = Scope()) -> Answer:
        if scope.overview:
            openings = opening_sentences(passages)
            return compose(question, openings, passages) if openings else abstain(question, passages)
        lines = about_articles(question, passages, scope.last)
        if lines:
            found = []
            for passage, start, end in lines:
                text = passage.text[start - passage.start : end - passage.start]
                line = Sentence(passage, passages.index(passage), start, end, text, frozenset(content_terms(text)))
                found.append(Scored(line, 1.0, 1.0, line.terms))
            return compose(question, found, passages)
        if asks_who_is_quoted(question):
            quoting = self.quoting(split_sentences(passages))
            return compose(question, quoting, passages) if quoting else abstain(question, passages)
        if not own_terms(question) and (not context or BARE_WHY.match(question)):
            # Nothing to look for: "When did that happen?" outside a conversation; "Why?", "How so?" in one,
            # where the sentence the history points to rarely gives the reason.
            return abstain(question, passages)
        if line_asked_for(question):
            # An article without a byline (or dateline): its headline would otherwise "answer" who wrote it.
            return abstain(question, passages)
        # Less what the last answer quoted, whose spans may be whole quotations of several sentences.
        sentences = [s for s in split_sentences(passages) if not any(s.overlaps(span) for span in scope.exclude)]
        dated = antecedent_date(context, sentences) if asks_when_of(question, context) else None
        if dated:
            return compose(question, [Scored(dated, 1.0, 1.0, dated.terms)], passages)
        # The passages' words are their sentences' words (already stemmed above) plus their headers'.
        passage_terms = frozenset().union(*(s.terms for s in sentences), *(content_terms(p.header) for p in passages))
        parts = split_question(question)
        chosen: list[Scored] = []
        for i, part in enumerate(parts):
            # "..., and where were fragments of them found?": a later part's "them" is in the earlier parts.
            part_context = " ".join([context, *parts[:i]]).strip() if i and is_followup(part) else context
            scored = score_sentences(part, part_context, sentences, self.weights, self.embed)
            scored = answering_kind(part, context, part_context, scored, scope.last.named)
            if len(parts) > 1 and part.lower().startswith("when"):
                # The other parts say the rest: this one is answered by a date or by nothing.
                scored = [x for x in scored if states_a_date(x.sentence.text)]
            scored = on_topic(part, scored, self.embed)
            # A compound question gets the best sentence for each part; a part the corpus does not answer is left out.
            min_support = self.abstention.min_support(part, passage_terms, self.weights)
            picked = choose(scored, min_support, bool(EACH_DOCUMENT.search(question)))
            picked = with_named_focus(part, picked, scored, min_support)
            picked = with_purpose(part, picked, sentences)
            picked = picked[: 1 if len(parts) > 1 else MAX_SENTENCES]
            for x in picked:
                # A quotation's opening sentence alone does not say who is speaking, nor its last one what was
                # said before: each sentence is quoted with the whole quotation it is part of, once (and not
                # for "Tell me more" when the last answer quoted part of it).
                quoted = whole_quote(x.sentence, self.document_text(x.sentence.passage.doc_id))
                if not any(quoted.overlaps(span) for span in [*scope.exclude, *(c.sentence.span for c in chosen)]):
                    chosen.append(replace(x, sentence=quoted))
        if not chosen and scope.exclude:
            chosen = continuation(scope, context, self.document_text)
        return compose(question, chosen, passages) if chosen else abstain(question, passages)

    def quoting(self, sentences: Sequence[Sentence]) -> list[Scored]:
        """The sentences in which someone speaks, each with the whole quotation it is part of, from the best-ranked
        passages on (at most QUOTED_MAX), in reading order: documents as first retrieved, then by place."""
        ranked = sorted(sentences, key=lambda s: (s.rank, s.start))
        found: list[Sentence] = []
        for sentence in ranked:
            if len(found) == QUOTED_MAX:
                break
            quoted = whole_quote(sentence, self.document_text(sentence.passage.doc_id))
            if speaks(quoted.text) and not any(quoted.overlaps(f.span) for f in found):
                found.append(quoted)
        documents = list(dict.fromkeys(s.passage.doc_id for s in ranked))
        found.sort(key=lambda s: (documents.index(s.passage.doc_id), s.start))
        return [Scored(s, 1.0, 1.0, s.terms) for s in found]

    def stream(
        self, question: str, context: str, passages: list[Passage], scope: Scope = Scope()
    ) -> Iterator[str | Answer]:
        """Sentence by sentence; the complete Answer comes last."""
        answer = self.answer(question, context, passages, scope)
        pieces = re.split(r"(?<=\][.!?]) ", answer.text)
        for i, piece in enumerate(pieces):
            yield piece if i == len(pieces) - 1 else piece + " "
        yield answer
