"""The identity keys: emails and phones as vendors send them, messy, against the keys they must give."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lead_pipelines.identity import normalize_email, normalize_phone


@pytest.mark.parametrize(("raw", "key"), [
    ("Jane.Doe@Example.COM", "jane.doe@example.com"),
    ("  jane.doe@example.com  ", "jane.doe@example.com"),
    ("\tjane.doe@example.com\n", "jane.doe@example.com"),
    ("\r\n JANE.DOE@EXAMPLE.COM \r\n", "jane.doe@example.com"),
    ("\u00a0jane.doe@example.com\u00a0", "jane.doe@example.com"),
    ("\u3000jane.doe@example.com", "jane.doe@example.com"),
    ("\ufeffjane.doe@example.com\u200b", "jane.doe@example.com"),
    ("Jane.Doe+News@Gmail.com", "jane.doe+news@gmail.com"),
    ("j.d.o.e@googlemail.com", "j.d.o.e@googlemail.com"),
    ("o'brien-2@mail.example.co.uk", "o'brien-2@mail.example.co.uk"),
    ("a!#$%&'*/=?^_`{|}~-@x.io", "a!#$%&'*/=?^_`{|}~-@x.io"),
    ("a@xn--exmple-cua.com", "a@xn--exmple-cua.com"),
    ("Chloé.Robert4@Orange.FR", "chloé.robert4@orange.fr"),
    ("chloe\u0301@orange.fr", "chloé@orange.fr"),
    ("\u212a@example.com", "k@example.com"),
], ids=["case", "spaces", "tab-newline", "crlf-upper", "nbsp", "ideographic-space", "bom-zero-width",
        "plus-kept", "gmail-dots-kept", "apostrophe-hyphen-subdomains", "every-atext-char", "punycode-domain",
        "accented-local-lower-cased", "decomposed-accent-composed", "kelvin-sign-is-k"])
def test_an_email_key_is_the_trimmed_lower_cased_address(raw, key):
    assert normalize_email(raw) == key


@pytest.mark.parametrize("raw", [
    None, "", "   ", "\t\n", "jane.doe", "jane.doe@", "@example.com", "jane@@example.com", "jane@doe@example.com",
    "foo@bar", "jane doe@example.com", "jane@example .com", "jane\u00a0@example.com", "Jane <jane@example.com>",
    "<jane@example.com>", '"jane doe"@example.com', "jane(work)@example.com", ".jane@example.com",
    "jane.@example.com", "ja..ne@example.com", "jane@example..com", "jane@example.com.", "jane@-example.com",
    "jane@example-.com", "jane@ex_ample.com", "jane@[192.0.2.1]", "jane@exämple.com", "jane@\u212aexample.com",
    "j\u00e9\u00a0@example.com", "mailto:jane@example.com", "jane@example.com;", "jane@example,com",
], ids=["none", "empty", "blank", "tab-newline-only", "no-at", "no-domain", "no-local", "two-at-adjacent", "two-at",
        "domain-without-dot", "space-in-local", "space-in-domain", "nbsp-inside", "display-name", "angle-brackets",
        "quoted-local", "comment", "leading-dot", "trailing-dot", "double-dot", "domain-double-dot",
        "domain-trailing-dot", "label-leading-hyphen", "label-trailing-hyphen", "underscore-in-domain",
        "address-literal", "non-ascii-domain", "kelvin-sign-in-domain", "nbsp-after-accent", "mailto",
        "trailing-semicolon", "comma-in-domain"])
def test_a_value_that_is_not_an_email_has_no_key(raw):
    assert normalize_email(raw) is None
    assert normalize_email(raw, fold_provider_aliases=True) is None


@pytest.mark.parametrize(("raw", "folded"), [
    ("J.Doe+News@Gmail.com", "jdoe@gmail.com"),
    ("j.d.o.e@googlemail.com", "jdoe@gmail.com"),
    ("jdoe+a+b@gmail.com", "jdoe@gmail.com"),
    ("jane.doe+shop@outlook.com", "jane.doe@outlook.com"),
    ("jane.doe+shop@hotmail.com", "jane.doe@hotmail.com"),
    ("jane+x@icloud.com", "jane@icloud.com"),
    ("jane+x@fastmail.com", "jane@fastmail.com"),
    ("jane+x@protonmail.com", "jane@protonmail.com"),
    ("jane.doe+shop@example.com", "jane.doe+shop@example.com"),
    ("jane.doe+shop@yahoo.com", "jane.doe+shop@yahoo.com"),
    ("jane.doe@mail.gmail.com", "jane.doe@mail.gmail.com"),
    ("+news@gmail.com", "+news@gmail.com"),
    ("j.+news@gmail.com", "j@gmail.com"),
    ("j.+news@outlook.com", "j.+news@outlook.com"),
], ids=["gmail-dots-and-tag", "googlemail-becomes-gmail", "gmail-several-plus", "outlook-tag", "hotmail-tag",
        "icloud-tag", "fastmail-tag", "protonmail-tag", "other-domain-untouched", "yahoo-untouched",
        "gmail-subdomain-untouched", "tag-only-local-kept",
        "gmail-dot-before-tag", "tag-kept-where-a-dot-would-end-the-local-part"])
def test_provider_aliases_fold_only_when_asked(raw, folded):
    assert normalize_email(raw, fold_provider_aliases=True) == folded
    assert normalize_email(raw) == raw.lower()


@pytest.mark.parametrize(("raw", "region", "key"), [
    ("+33 6 12 34 56 78", "FR", "+33612345678"),
    ("+33 6 12 34 56 78", "US", "+33612345678"),
    ("0033 6 12 34 56 78", "FR", "+33612345678"),
    ("06.12.34.56.78", "FR", "+33612345678"),
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("0612345678", "fr", "+33612345678"),
    ("(512) 789-1111", "US", "+15127891111"),
    ("512-789-1111", "US", "+15127891111"),
    ("1-512-789-1111", "US", "+15127891111"),
    ("+1 512 789 1111", "US", "+15127891111"),
    ("+15127891111", "FR", "+15127891111"),
    ("512.789.1111 ext. 23", "US", "+15127891111"),
    ("(512) 789-1111 x23", "US", "+15127891111"),
    ("\u00a0 512 789 1111\t\n", "US", "+15127891111"),
    ("5127891111", None, "+15127891111"),
    ("5127891111", "", "+15127891111"),
    ("5127891111", "us", "+15127891111"),
    ("+44 20 7946 0958", "US", "+442079460958"),
], ids=["fr-international", "fr-international-us-region", "fr-00-prefix", "fr-dots", "fr-spaces", "fr-lower-region",
        "us-parens", "us-dashes", "us-leading-1", "us-plus-1", "us-international-fr-region", "us-ext-dot",
        "us-ext-x", "us-nbsp-tab-newline", "region-none", "region-empty", "region-lower", "uk-international"])
def test_a_phone_key_is_e164_without_extension(raw, region, key):
    assert normalize_phone(raw, region) == key


@pytest.mark.parametrize(("raw", "region"), [
    (None, "US"), ("", "US"), ("   ", "US"), ("512-789", "US"), ("12", "US"), ("call me", "US"), ("n/a", "US"),
    ("000-000-0000", "US"), ("555-0100", "US"), ("+1 012 789 1111", "US"), ("06 12 34 56", "FR"),
    ("0033 6 12 34 56 78", "US"), ("06 12 34 56 78", "US"), ("+33 6 12 34 56 78 90 12", "FR"), ("5127891111", "XX"),
], ids=["none", "empty", "blank", "too-short", "two-digits", "letters", "n-a", "all-zeros", "seven-digit-555",
        "us-area-code-0", "fr-too-short", "fr-00-prefix-in-us", "fr-national-in-us", "fr-too-long",
        "unknown-region"])
def test_a_value_that_is_not_a_valid_phone_has_no_key(raw, region):
    assert normalize_phone(raw, region) is None


_ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
_LABELS = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", fullmatch=True)
_EMAILS = st.builds(
    lambda atoms, labels: f"{'.'.join(atoms)}@{'.'.join(labels)}",
    st.lists(st.text(_ATEXT, min_size=1, max_size=8), min_size=1, max_size=3),
    st.lists(_LABELS, min_size=2, max_size=3),
)
_SPACES = st.text(" \t\r\n\u00a0\u2009\u3000\ufeff\u200b", max_size=3)
_PROVIDER_EMAILS = st.builds(
    lambda atoms, domain: f"{'.'.join(atoms)}@{domain}",
    st.lists(st.text("abcXYZ019.+-_", min_size=1, max_size=6), min_size=1, max_size=3),
    st.sampled_from(["gmail.com", "GoogleMail.com", "outlook.com", "icloud.com", "example.com"]),
)
_UNICODE_EMAILS = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.text(st.characters(categories=["L", "M", "N"]), min_size=1, max_size=8),
    st.sampled_from(["orange.fr", "Gmail.com", "Hotmail.com"]),
)
_MESSY = st.builds(lambda before, value, after: f"{before}{value}{after}", _SPACES,
                   st.one_of(_EMAILS, _PROVIDER_EMAILS, _UNICODE_EMAILS, st.text(max_size=20)), _SPACES)


@given(_MESSY, st.booleans())
def test_an_email_key_is_its_own_key(raw, fold):
    key = normalize_email(raw, fold_provider_aliases=fold)
    if key is not None:
        assert normalize_email(key, fold_provider_aliases=fold) == key
        assert key == key.lower() and key == key.strip() and key.count("@") == 1


@given(_EMAILS, _SPACES, _SPACES, st.booleans())
def test_an_email_key_ignores_case_and_surrounding_space(address, before, after, fold):
    key = normalize_email(address, fold_provider_aliases=fold)
    assert key is not None and key == key.lower()
    assert normalize_email(f"{before}{address.upper()}{after}", fold_provider_aliases=fold) == key
    assert normalize_email(f"{before}{address.swapcase()}{after}", fold_provider_aliases=fold) == key


_PHONES = st.one_of(
    st.from_regex(r"(\+33 ?|0033 ?|0)[67]( ?[0-9]{2}){4}", fullmatch=True),
    st.from_regex(r"(\+?1[ -]?)?\(?[2-9][0-9]{2}\)?[ .-]?[2-9][0-9]{2}[ .-]?[0-9]{4}( x[0-9]{1,4})?", fullmatch=True),
    st.text(alphabet="0123456789 +-().x", max_size=24),
)


@given(_PHONES, st.sampled_from(["US", "FR", "GB", "DE", "us", "fr", None]))
def test_a_phone_key_is_e164_and_its_own_key(raw, region):
    key = normalize_phone(raw, region)
    if key is not None:
        assert key.startswith("+") and key[1:].isdigit()
        assert normalize_phone(key, region) == key
        assert normalize_phone(key, "FR") == key
