# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""wsman.kerberos.explain: each Kerberos failure, in MIT's words, gets its cause and its fix."""

from __future__ import annotations

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import kerberos

# what MIT krb5 / GSSAPI says (as pykerberos or the krb5 package pass it on) -> words the message must hold
CASES = [
    ("(('Unspecified GSS failure.  Minor code may provide more information', 851968), "
     "('No Kerberos credentials available (default cache: FILE:/tmp/krb5cc_0)', -1765328243))",
     {}, ["no Kerberos ticket", "kinit"]),
    ("Cannot find KDC for realm \"lab.example\"", {"username": "ops@lab.example"},
     ["wrong realm", "lab.example", "upper case", "krb5.conf"]),
    ("Can't find client principal ops@WRONG.EXAMPLE in cache collection", {"username": "ops@WRONG.EXAMPLE"},
     ["no ticket for ops@WRONG.EXAMPLE", "wrong realm", "kinit"]),
    ("Server HTTP/10.10.1.11@LAB.EXAMPLE not found in Kerberos database", {"host": "10.10.1.11"},
     ["IP address 10.10.1.11", "fully qualified domain name", "kerberos_hostname_override"]),
    ("Server HTTP/hv01@LAB.EXAMPLE not found in Kerberos database", {"host": "hv01"},
     ["HTTP/hv01", "fully qualified domain name", "setspn"]),
    ("Clock skew too great", {}, ["clock skew", "5 minutes", "NTP"]),
    ("Cannot contact any KDC for realm 'LAB.EXAMPLE'", {"username": "ops@LAB.EXAMPLE"},
     ["unreachable", "LAB.EXAMPLE", "port 88", "krb5.conf"]),
    ("Ticket expired", {}, ["expired", "kinit"]),
    ("(('The referenced credential has expired', 720896), ('Unknown error', 0))", {}, ["has expired", "kinit", "klist"]),
    ("Preauthentication failed", {"username": "ops@LAB.EXAMPLE"}, ["wrong password"]),
    ("Client 'nobody@LAB.EXAMPLE' not found in Kerberos database", {"username": "nobody@LAB.EXAMPLE"},
     ["no user nobody@LAB.EXAMPLE", "USER@REALM"]),
]


@pytest.mark.parametrize("text, where, words", CASES, ids=[
    "no-ticket", "wrong-realm", "ticket-of-another-realm", "ip-address", "unknown-spn", "clock-skew",
    "kdc-unreachable", "expired", "gss-credential-expired", "wrong-password", "unknown-user"])
def test_each_failure_names_its_cause_and_fix(text, where, words):
    message = kerberos.explain(text, **where)
    assert "Fix" in message or "fix" in message
    for word in words:
        assert word in message


def test_an_unknown_failure_keeps_the_library_words():
    assert kerberos.explain("Something new") == "Kerberos failed on the controller: Something new"


def test_a_refused_ticket_names_the_spn_and_the_causes():
    message = kerberos.rejected("10.0.0.5", "hv01.lab.example")
    assert "HTTP/hv01.lab.example (HTTP 401)" in message
    for cause in ("clock skew", "another service", "setspn", "expired", "Remote Management Users"):
        assert cause in message


def test_an_ip_address_is_told_from_a_name():
    assert kerberos.is_ip_address("127.0.0.1") and kerberos.is_ip_address("[::1]")
    assert not kerberos.is_ip_address("hv01.lab.example")
