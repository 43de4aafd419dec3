"""PII redaction: e-mail addresses and public IP addresses become fixed placeholders.

`redact_pii(text, config) -> (text, counts)` is the pure part; `PIIRedaction` is the filter
step ('pii') around it, which never drops and counts pii.email and pii.ip_address.

The placeholders are realistic but reserved (an example.com address, a documentation IP),
so the text still reads naturally and points at nobody; redacting twice changes nothing.
Only public addresses are personal: private (10/8, 192.168/16...), loopback, link-local
and documentation addresses, and strings that merely look like addresses (version
numbers such as 1.2.3.4.5, times such as 12:30:45) are kept. A four-part version number
such as 2.0.1.15 is a valid public IPv4 address and is replaced: no regular expression
can tell them apart.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from transforms.filters.base import KEEP, Filter, Verdict
from transforms.settings import setting


@dataclass
class PIIConfig:
    email_placeholder: str = setting(
        "Replaces every e-mail address (example.com is reserved for examples, RFC 2606).", default="email@example.com"
    )
    ip_placeholder: str = setting(
        "Replaces every public IPv4/IPv6 address (192.0.2.0/24 is reserved for documentation, RFC 5737); "
        "private, loopback and reserved addresses are kept.",
        default="192.0.2.1",
    )


# ASCII local parts: a Unicode letter glued before an address is text, not part of it.
EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9.%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}(?![\w-]|\.\w)"
)
IPV4_RE = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
# Candidates only (ipaddress decides what is an address). A candidate starts with a hex group:
# text such as "::a" or "std::map" is not an address, and loopback "::1" is not public anyway.
IPV6_RE = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")


def _is_public(candidate: str) -> bool:
    try:
        return ipaddress.ip_address(candidate).is_global
    except ValueError:
        return False


def redact_pii(text: str, config: PIIConfig | None = None) -> tuple[str, dict[str, int]]:
    """`text` with e-mail and public IP addresses replaced, and how many of each were replaced."""
    config = config or PIIConfig()
    counts = {"email": 0, "ip_address": 0}

    def email(match: re.Match) -> str:
        if match.group() == config.email_placeholder:
            return match.group()
        counts["email"] += 1
        return config.email_placeholder

    def ip_address(match: re.Match) -> str:
        if not _is_public(match.group()):
            return match.group()
        counts["ip_address"] += 1
        return config.ip_placeholder

    if "@" in text:
        text = EMAIL_RE.sub(email, text)
    if "." in text:
        text = IPV4_RE.sub(ip_address, text)
    if "::" in text or text.count(":") >= 7:
        text = IPV6_RE.sub(ip_address, text)
    return text, {kind: n for kind, n in counts.items() if n}


class PIIRedaction(Filter):
    """The 'pii' step: replaces e-mail and public IP addresses; keeps every document."""

    name = "pii"
    settings = PIIConfig
    edits_code = True

    def __init__(self, config: PIIConfig | None = None):
        self.config = config or PIIConfig()

    def keep(self, text: str) -> Verdict:
        redacted, counts = redact_pii(text, self.config)
        if not counts:
            return KEEP
        return Verdict(keep=True, text=redacted, counts={f"pii.{kind}": n for kind, n in counts.items()})
