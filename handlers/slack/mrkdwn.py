"""Slack's text markup in and out: what a candidate wrote is shown, never obeyed.

Out: every value a builder puts into a message (text a candidate wrote, a subject, an address,
a name from the records) goes through `escape`, so `<!channel>`, `<@U123>` or
`<https://evil|sign in>` arrive as the characters they are, not a broadcast, a mention or a
disguised link; codes are masked there too, as a last guard. In: `to_plain` turns a message as
Slack delivers it (its own markup, `&lt;` for `<`) into the plain text the core reads.
"""

import re

from bot.privacy.masking import mask_codes

# Slack treats only these three as control characters and wants them as HTML entities.
_CONTROL = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Bare broadcast words are turned into mentions by some clients and the `link_names` option;
# a word joiner after the @ keeps them readable and inert.
_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_WORD_JOINER = "\u2060"


def escape(value: object) -> str:
    """`value` as mrkdwn that shows exactly its characters (codes masked)."""
    text = mask_codes(str(value))
    return _BROADCAST.sub("@" + _WORD_JOINER, text.translate(_CONTROL))


_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}


def _plain(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("@", "#")):  # a user or channel: its label, else its id
        return target[0] + (label.lstrip("@#") if label else target[1:])
    if target.startswith("!"):  # <!channel>, <!here>, <!subteam^S1|@team>, <!date^...|text>
        return label or "@" + target[1:].split("^")[0]
    if target.startswith("mailto:"):
        return target.removeprefix("mailto:")
    return f"{label} ({target})" if label and label != target else target


def to_plain(text: str) -> str:
    """A Slack message's text as plain text: mentions and links as words, entities decoded."""
    text = _MARKUP.sub(_plain, text)
    return re.sub(r"&(?:lt|gt|amp);", lambda m: _ENTITIES[m.group(0)], text)
