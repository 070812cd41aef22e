"""What a reader on the desk may be shown of text someone outside it wrote (a subject, a quoted
error, a name): one rule for every output that shows it, Slack and digests alike.

- Codes are masked (`bot.privacy.masking`), however they were written.
- Direction controls are shown as a visible mark, never obeyed: a right-to-left override or an
  isolate shows the rest of a line backwards or moved, so a subject ending in one could show an
  agent a made-up "Candidate: MCP 4012345 (verified)" after it, or a ticket number that is not.

Escaping for the medium (Slack's `&<>`, HTML) stays with each renderer.
"""

import re

from bot.privacy.masking import mask_codes

# Embeddings, overrides (U+202A-U+202E) and isolates (U+2066-U+2069).
_DIRECTION = re.compile("[\u202a-\u202e\u2066-\u2069]")
MARK = "\ufffd"


def shown(text: str) -> str:
    """`text` as a reader may be shown it: codes masked, direction controls made visible."""
    return _DIRECTION.sub(MARK, mask_codes(text)) if text else text
