"""Text out of mail: header values with RFC 2047 words, body bytes in declared or wrong charsets,
and HTML made readable. Nothing here gives up: a wrong label falls back, a broken word is dropped.
"""

import base64
import binascii
import quopri
import re
from email.message import Message

from bs4 import BeautifulSoup

ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
ADJACENT_WORDS = re.compile(r"(\?=)\s+(=\?)")  # the space between encoded words is not text
# Labels that mean "some Western single-byte charset": browsers and mailers read them as cp1252.
WESTERN = {"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "iso_8859-1", "l1"}
BLOCKS = ["p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol"]


def header(message: Message, name: str) -> str:
    """A header's decoded, unfolded text ('' when absent). Reads the raw value and decodes RFC 2047
    words itself: the modern policy re-parses a header on every access (most of the parse time),
    and gives up on a word in an unknown charset or with broken base64, where this keeps the rest.
    """
    key = name.lower()
    items = message.raw_items() if hasattr(message, "raw_items") else message.items()
    raw = next((value for field, value in items if field.lower() == key), None)
    return "" if raw is None else decode_header_value(str(raw))


def decode_header_value(value: str) -> str:
    if any("\udc80" <= ch <= "\udcff" for ch in value):  # undeclared 8-bit bytes in a header
        value = decode_text(value.encode("utf-8", "surrogateescape"), None)[0]
    value = " ".join(value.split())
    if "=?" in value:
        value = ENCODED_WORD.sub(_decoded_word, ADJACENT_WORDS.sub(r"\1\2", value))
    # NUL (an encoded word can decode to it) is no header character, and PostgreSQL refuses it.
    return " ".join(value.replace("\x00", " ").split())


def _decoded_word(match: re.Match[str]) -> str:
    charset, encoding, data = match.groups()
    try:
        if encoding in "bB":
            payload = base64.b64decode(data + "=" * (-len(data) % 4))
        else:
            payload = quopri.decodestring(data.encode("ascii", "replace"), header=True)
    except (ValueError, binascii.Error):
        return ""
    return decode_text(payload, charset.split("*")[0])[0]


def decode_text(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Decode body bytes: the declared charset, then UTF-8, then cp1252, then latin-1.
    Returns the text and the charset used when it was not the declared one."""
    label = (declared or "").strip().lower()
    tried: list[str] = []
    if label in WESTERN:
        tried.append("cp1252")  # 0x80-0x9f are cp1252 punctuation in practice, not controls
    elif label:
        tried.append(label)
    tried += ["utf-8", "cp1252"]
    for charset in tried:
        try:
            text = data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
        expected = {label, "cp1252" if label in WESTERN else label, label or "utf-8"}
        used = None if charset in expected else charset
        return text, used
    return data.decode("latin-1", errors="replace"), "latin-1"


def part_text(part: Message) -> tuple[str, str | None]:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload()).encode("utf-8", "surrogateescape")
    return decode_text(payload, part.get_content_charset())


def html_to_text(html: str) -> str:
    """Readable text from HTML (BeautifulSoup, MIT licensed): scripts and styles dropped,
    paragraphs separated by a blank line, line breaks kept."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title"]):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(BLOCKS):
        block.insert_before("\n\n")
        block.insert_after("\n\n")
    for line_end in soup.find_all(["li", "tr"]):
        line_end.insert_after("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
