"""Masking of secrets (voucher and promotion codes) before they reach logs, digests or channels."""

import re

_VISIBLE = 4


def mask_secret(code: str | None) -> str:
    """Show only the last four characters of a code: `ABCD-EFGH-7Q2K` -> `****-7Q2K`."""
    if not code:
        return ""
    code = code.strip()
    if len(code) <= _VISIBLE:
        return "*" * len(code)
    return "****-" + code[-_VISIBLE:]


def mask_all(text: str, codes: list[str]) -> str:
    """Replace every occurrence of the given codes in `text` with their masked form."""
    for code in sorted({c for c in codes if c}, key=len, reverse=True):
        text = re.sub(re.escape(code), mask_secret(code), text, flags=re.IGNORECASE)
    return text
