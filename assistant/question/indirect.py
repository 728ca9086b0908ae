"""Indirect questions read as the direct ones they wrap: "Do you know who took the photos?" is "Who took the
photos?", and "Quote the UN diplomat" is "What did the UN diplomat say?". The wrapper's words ("know", "idea",
"want", "quote") are in no answer and would weigh as much as the question's own, and the rules that read a
question's form ("Who ...?", "What did X say?") look at its start."""

from __future__ import annotations

import re

WH = r"(?:who|whom|whose|what|when|where|which|why|how|whether|if)\b"
# "Could you (please) ...", "Please ...": the request that follows is the question ("Could you tell me about RUSI?").
POLITE = re.compile(r"^\s*(?:please\s+|(?:can|could|would|will)\s+you\s+(?:please\s+)?)(?=\w)", re.I)
# Who is asked to know or tell: the reader, not a subject of the texts ("Does Britain know what ...?" stays).
ASKER = r"(?:you|we|anyone|anybody|the\s+corpus)"
WRAPPER = re.compile(
    rf"^\s*(?:"
    rf"(?:do|does|did)\s+{ASKER}\s+(?:know|say|remember)"
    r"|is\s+it\s+(?:known|clear|said)"
    r"|i(?:\s+(?:want|would\s+like|need)|['’]d\s+like)\s+to\s+know"
    r"|i\s+wonder"
    r"|(?:any|some)\s+idea"
    r"|tell\s+(?:me|us)"
    rf")\s+(?={WH})",
    re.I,
)
# The embedded clause keeps statement order ("what Peskov said"); the speech question reads "What did Peskov say?".
SPEECH_FORMS = {
    "said": ("did", "say"),
    "says": ("does", "say"),
    "stated": ("did", "state"),
    "states": ("does", "state"),
    "claimed": ("did", "claim"),
    "claims": ("does", "claim"),
    "announced": ("did", "announce"),
    "wrote": ("did", "write"),
    "reported": ("did", "report"),
    "declared": ("did", "declare"),
}
EMBEDDED_SPEECH = re.compile(
    rf"^what\s+(?P<who>\S.*?)\s+(?P<verb>{'|'.join(SPEECH_FORMS)})(?P<about>\s+about\s+.+)?$", re.I
)
# "Quote the UN diplomat", "Give me the exact quote from Budanov": what did they say?
QUOTE_REQUEST = re.compile(
    r"^\s*(?:(?:give|show|find|get)\s+(?:me\s+|us\s+)?(?:the\s+|an?\s+|any\s+)?(?:exact\s+|full\s+|direct\s+)?"
    r"quot(?:e|es|ation|ations)\s+(?:from|of|by)|quote)"
    r"\s+(?P<who>\S.*?)(?:\s+(?:about|on)\s+(?P<about>\S.*?))?\s*[.?!]?$",
    re.I,
)


def direct(question: str) -> str:
    """The direct question an indirect one wraps, or a request for a quotation asks; any other question
    unchanged."""
    polite = POLITE.match(question)
    request = question[polite.end() :] if polite else question
    quote = QUOTE_REQUEST.match(request)
    if quote:
        about = f" about {quote['about']}" if quote["about"] else ""
        return f"What did {quote['who']} say{about}?"
    wrapped = WRAPPER.match(request)
    if not wrapped:
        return request[:1].upper() + request[1:] if polite else question
    embedded = request[wrapped.end() :].rstrip(" .?")
    speech = EMBEDDED_SPEECH.match(embedded)
    if speech:
        auxiliary, verb = SPEECH_FORMS[speech["verb"].lower()]
        embedded = f"what {auxiliary} {speech['who']} {verb}{speech['about'] or ''}"
    return f"{embedded[:1].upper()}{embedded[1:]}?"
