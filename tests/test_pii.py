"""PII redaction: e-mail and public IP addresses become fixed placeholders, and are counted."""

import pytest

from tests.helpers import corpus_file_text
from transforms.filters import KEEP
from transforms.pii import PIIConfig, PIIRedaction, redact_pii


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Write to john.doe+news@mail.example.co.uk.", "Write to email@example.com."),
        ("<mailto:Info@Firma-Berlin.DE>", "<mailto:email@example.com>"),
        ("网站地图fyzw88@126.com", "网站地图email@example.com"),  # the CJK text before it is not the address
    ],
)
def test_email_addresses_are_replaced(text, expected):
    assert redact_pii(text) == (expected, {"email": 1})


@pytest.mark.parametrize("text", ["user@localhost", "a@b.c", "@handle on social media", "price: 5 @ 3.99"])
def test_strings_that_are_not_email_addresses_are_kept(text):
    assert redact_pii(text) == (text, {})


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Our server 8.8.8.8. answers.", "Our server 192.0.2.1. answers."),
        ("Resolver 2001:4860:4860::8888 is public.", "Resolver 192.0.2.1 is public."),
    ],
)
def test_public_ip_addresses_are_replaced(text, expected):
    assert redact_pii(text) == (expected, {"ip_address": 1})


@pytest.mark.parametrize(
    "text",
    [
        "Router at 192.168.1.1, NAS at 10.0.0.2, this machine 127.0.0.1.",  # private and loopback
        "Docs use 192.0.2.7 and 2001:db8::1.",  # reserved for documentation
        "::1 and fe80::1 are local.",
        "Version 1.2.3.4.5 and 999.1.1.1 are not addresses.",
        "Kick-off at 12:30:45, std::map in C++.",
    ],
)
def test_private_reserved_and_look_alike_addresses_are_kept(text):
    assert redact_pii(text) == (text, {})


def test_redacting_twice_changes_nothing_and_counts_nothing():
    once, counts = redact_pii("Mail a@example.org or ping 8.8.4.4 and 1.1.1.1.")
    assert counts == {"email": 1, "ip_address": 2}
    assert redact_pii(once) == (once, {})


def test_placeholders_are_configurable():
    config = PIIConfig(email_placeholder="<EMAIL>", ip_placeholder="<IP>")
    assert redact_pii("a@example.org at 9.9.9.9", config) == ("<EMAIL> at <IP>", {"email": 1, "ip_address": 1})


def test_the_step_keeps_every_document_and_counts_replacements():
    step = PIIRedaction()
    assert step.keep("Nothing personal here.") == KEEP
    verdict = step.keep("Contact bob@example.net.")
    assert verdict.keep and verdict.text == "Contact email@example.com."
    assert verdict.counts == {"pii.email": 1}


def test_real_pages_lose_their_addresses(corpora):
    page = corpus_file_text(corpora, "web/html/adbar__trafilatura/tests/eval/nmb-media.de.ebay.html", "html")
    redacted, counts = redact_pii(page)
    assert counts == {"ip_address": 2} and "123.123.123.123" not in redacted
    page = corpus_file_text(corpora, "web/html/adbar__trafilatura/tests/cache/rechtambild.de.kochbuch.html", "html")
    redacted, counts = redact_pii(page)
    assert counts == {"email": 1} and "info@rechtambild.de" in page and "info@rechtambild.de" not in redacted
