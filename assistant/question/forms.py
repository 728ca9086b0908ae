"""What the form of a question says about its answer: its parts ("Who is X, and when did Y?"), the words that
ask rather than name ("the names of", "compare"), the kind of thing asked for ("Which newspaper ...?"), and
the questions with answers of a known shape: a definition ("Who is X?"), an acronym's expansion, a speaker's
words ("What did X say?"), what an event was about."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from lemminflect import getAllLemmas

from assistant.core.text import content_terms
from assistant.question.focus import NAME_REQUEST
from assistant.question.followup import own_terms

# "How many containers were loaded?": the thing counted, which the figure should be a count of.
COUNTED = re.compile(
    r"\bhow\s+(?:many|much)\s+(?:[\w-]+\s+){0,2}?([a-z]+)\s+(?:is|are|was|were|did|does|do|has|have|had)\b",
    re.IGNORECASE,
)
# "..., and when ...", "... and who ...": a second question joined to the first.
WH_WORD = r"(?:who|what|when|where|which|how|why)\b"
COMPOUND = re.compile(rf"(?:,\s*|\s+)and\s+(?={WH_WORD})", re.IGNORECASE)
# "Where and when were ...?", "Who took the photos, and when?": a part that is only its question word.
LONE_WH = re.compile(rf"\s*{WH_WORD}\W*$", re.IGNORECASE)
# "What do both articles say about ...?": every document that answers gets its say.
EACH_DOCUMENT = re.compile(
    r"\b(?:both|each|all|every|the two)\s+(?:of\s+the\s+)?"
    r"(?:articles?|reports?|sources?|documents?|stories|outlets?|texts?)\b"
    r"|\bcompar|\bdiffer|\b(?:dis)?agree(?:s|d)?\b|\bcontrast"
    # "Tell me about X": what the corpus says about it, wherever it does
    r"|^\s*(?:tell\s+me\s+(?:more\s+)?about|what\s+do\s+you\s+know\s+about|describe)\b",
    re.IGNORECASE,
)
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
# "What was the meeting about?", "What was discussed at the meeting in Moscow?", "the purpose of the talks":
# what an event was about, which the sentence naming the event often leaves to the one after it.
PURPOSE_ASKED = re.compile(
    r"^\s*what\s+(?:is|are|was|were)\b.*\babout\s*\??\s*$|^\s*what\s+(?:is|are|was|were)\s+(?:being\s+)?discussed\b"
    r"|^\s*what\s+(?:did|do|does|will)\b.*\bdiscuss\s*\??\s*$"
    r"|^\s*what\s+(?:is|are|was|were)\s+(?:the\s+)?(?:\w+\s+)?(?:purpose|aim|goal|agenda|subject)s?\s+of\b",
    re.IGNORECASE,
)


def split_question(question: str) -> list[str]:
    """'Who is X, and when did Y?' -> ['Who is X', 'when did Y?']: each part is answered on its own. A part
    that is only its question word asks it of the rest of another: 'Where and when were the ships photographed?'
    -> ['Where were the ships photographed?', 'when were the ships photographed?']."""
    parts = [p.strip(" ,;") for p in COMPOUND.split(question) if p and p.strip(" ,;")]
    full = next((p for p in parts if not LONE_WH.match(p)), "")
    body = re.sub(rf"^\s*{WH_WORD}", "", full, flags=re.IGNORECASE)
    parts = [f"{p.strip(' ?')}{body}" if LONE_WH.match(p) else p for p in parts]
    return parts if len(parts) > 1 and all(len(content_terms(p)) >= 1 for p in parts) else [question]


def asked_name(question: str, patterns: Sequence[re.Pattern[str]]) -> str | None:
    """The name that the first of `patterns` to match the question asks about."""
    typed = question.strip()
    # Typed all in lower case ("who is pranay vaddi"): its words may be the name; names match in any case.
    typed = typed.title() if typed == typed.lower() else typed
    asked = next((m for m in (p.match(typed) for p in patterns) if m), None)
    return asked.group("name") if asked else None


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


def asks_when_of(question: str, context: str) -> bool:
    """A "when" in a conversation with no words of its own ("When did he say that?", "When?")."""
    return bool(context) and not own_terms(question) and question.lower().startswith("when")
