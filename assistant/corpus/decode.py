"""The bytes of a text file as text: UTF-8, else what a byte-order mark says, else a legacy encoding that
charset-normalizer recognises (Windows-1252, Latin-2, KOI8-R, Shift-JIS ...), with a note saying which."""

from __future__ import annotations

import codecs
import re

# A byte-order mark names its encoding; it comes first, as UTF-16 and UTF-32 text is full of NUL bytes.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
NON_ASCII = re.compile(r"[^\x00-\x7f]")
BINARY = "binary content, not text; convert it to .txt, .md, .html, .pdf or .docx"


class NotText(ValueError):
    """No encoding fits; the message says why."""


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, note): the note is "" for clean UTF-8, otherwise says how the bytes were read."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), f"read as {encoding.upper()} (byte-order mark); save it as UTF-8 to be sure"
    if b"\x00" in data[:8192]:
        raise NotText(BINARY)
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    text = data.decode("utf-8", errors="replace")
    damaged = text.count("\ufffd") - data.count("\ufffd".encode())
    valid = len(text) - len(text.encode("ascii", "ignore")) - text.count("\ufffd")
    # As many valid multi-byte characters as broken ones: UTF-8 with damage (a file cut mid-character, a pasted
    # symbol), not a legacy encoding, whose text almost never forms valid UTF-8 ("Ã©"); read any other way,
    # every accent would be garbled.
    if valid and damaged <= valid:
        return text.removeprefix("\ufeff"), (
            f"{damaged} byte(s) are not valid UTF-8 (the first at byte {first_bad}) and read as \ufffd; "
            "save the file as UTF-8 to fix them"
        )
    encoding = legacy_encoding(data)
    if encoding is None:
        raise NotText(f"not UTF-8 (byte {first_bad}) and no other encoding fits; save the file as UTF-8")
    name = f"Windows-{encoding[2:]}" if encoding.startswith("cp125") else encoding
    text = data.decode(encoding)
    return text, f'not UTF-8; read as {name} (detected), e.g. "{sample(text)}"; save it as UTF-8 to be sure'


def sample(text: str) -> str:
    """The words around the first non-ASCII character, where a wrong guess shows ("Ã©t├⌐")."""
    found = NON_ASCII.search(text)
    start = found.start() if found else 0
    return " ".join(text[max(0, start - 12) : start + 12].split())


def legacy_encoding(data: bytes) -> str | None:
    """The encoding charset-normalizer finds least garbled. When Windows-1252 reads the bytes as cleanly as
    its pick, Windows-1252 wins: the ranking cannot tell Western encodings apart on short texts (it calls
    French "café crème" Central European cp1250, "crčme"), and WHATWG reads every Latin-1 label as it."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return None
    best = min(match.chaos for match in matches)
    for match in matches:
        if match.chaos == best and "cp1252" in match.could_be_from_charset:
            return "cp1252"
    return matches[0].encoding
