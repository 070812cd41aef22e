"""Does the desk's own mail server vouch for a message's From address?

A receiving mail server checks SPF, DKIM and DMARC and writes what it found in an
`Authentication-Results` header (RFC 8601) that starts with its own name, the authserv-id:
`Authentication-Results: mx.desk.example.org; dmarc=fail header.from=example.in`. Anyone can
write such a header into a message they send, so only the one from the server named by
`email.trusted_authserv_id` counts (the topmost one: the desk's server adds it last, and should
remove any arriving with its name). With that setting, the From is unproven when:

- the trusted server left no header at all (the message did not come through it);
- DMARC failed for the From domain;
- or, without a DMARC verdict, neither SPF nor DKIM passed for the From domain (relaxed
  alignment: the same domain or a parent or child of it) and one of them failed.

Without the setting nothing is checked: the desk takes its mail server's delivery on trust.
"""

from email.message import Message

import authres

from handlers.email.addresses import raw_values

SPF_FAILED = {"fail", "softfail", "permerror"}
DKIM_FAILED = {"fail", "permerror", "policy", "neutral"}


def from_unproven(message: Message, *, from_domain: str, trusted_authserv_id: str) -> str | None:
    """Why the trusted server's verdict leaves the From unproven, or None when it vouches."""
    trusted = trusted_authserv_id.strip().lower()
    for value in raw_values(message, "authentication-results"):
        try:
            header = authres.AuthenticationResultsHeader.parse_value(value)
        except Exception:  # authres.AuthResError and whatever a hostile header trips on
            continue
        if str(header.authserv_id).lower() != trusted:
            continue  # another server's word, or a forgery: either way not ours
        return _verdict(header.results, from_domain.lower())
    return f"no Authentication-Results from {trusted_authserv_id}"


def _verdict(results: list[object], domain: str) -> str | None:
    dmarc = [r for r in results if _method(r) == "dmarc" and _about(r, "from", domain)]
    if any(_result(r) == "fail" for r in dmarc):
        return f"dmarc=fail for {domain}"
    if any(_result(r) == "pass" for r in dmarc):
        return None
    spf = [r for r in results if _method(r) == "spf"]
    dkim = [r for r in results if _method(r) == "dkim"]
    if any(_result(r) == "pass" and _aligned(_prop(r, "smtp", "mailfrom"), domain) for r in spf):
        return None
    if any(_result(r) == "pass" and _aligned(_prop(r, "header", "d"), domain) for r in dkim):
        return None
    failed = [f"spf={_result(r)}" for r in spf if _result(r) in SPF_FAILED]
    failed += [f"dkim={_result(r)}" for r in dkim if _result(r) in DKIM_FAILED]
    if failed:
        return f"{', '.join(failed)} and nothing passed for {domain}"
    return None


def _method(result: object) -> str:
    return str(getattr(result, "method", "")).lower()


def _result(result: object) -> str:
    return str(getattr(result, "result", "")).lower()


def _prop(result: object, ptype: str, name: str) -> str | None:
    for prop in getattr(result, "properties", []) or []:
        if str(prop.type).lower() == ptype and str(prop.name).lower() == name:
            return str(prop.value)
    return None


def _about(result: object, name: str, domain: str) -> bool:
    """A DMARC result names the From domain it judged (`header.from`); none means this one."""
    judged = _prop(result, "header", name)
    return judged is None or judged.strip().lower() == domain


def _aligned(value: str | None, domain: str) -> bool:
    """Relaxed alignment: the checked domain is the From domain, a parent or a child of it."""
    if not value:
        return False
    other = value.rpartition("@")[2].strip().lower().rstrip(".")
    return other == domain or domain.endswith("." + other) or other.endswith("." + domain)
