# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kerberos for hvsim hosts: the keytab they accept with, and what they saw (logins, refusals).

A Windows host accepts a Kerberos AP-REQ inside HTTP Negotiate (SPNEGO, or a raw Kerberos token as pykerberos
sends it) when the ticket is for one of its SPNs (HTTP/<fqdn>), is not expired, and its authenticator is within
the clock skew; otherwise it answers 401 with its usual challenge. pyspnego's acceptor (gssapi, MIT krb5) makes
exactly these checks against the keytab. MIT's acceptor finds its keys through KRB5_KTNAME, which is
process-wide, so starting a simulator with a KerberosService exports it (one keytab per process).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import typing as t
from dataclasses import dataclass, field

AUTH_METHODS = ('basic', 'ntlm', 'kerberos')  # what a host may offer: WinRM's Basic, Negotiate/NTLM, Kerberos


@dataclass(frozen=True)
class KerberosLogin:
    """One accepted Kerberos context."""

    host: str
    principal: str
    delegated: bool  # the client forwarded its TGT (GSS_C_DELEG_FLAG), as CredSSP-free remote moves need


@dataclass(frozen=True)
class KerberosRefusal:
    """One refused Kerberos token, with the acceptor's reason (e.g. 'Clock skew too great')."""

    host: str
    reason: str


@dataclass
class KerberosService:
    """The keytab every Kerberos-enabled host accepts with, and a record of what happened."""

    keytab: str
    logins: list[KerberosLogin] = field(default_factory=list)
    refusals: list[KerberosRefusal] = field(default_factory=list)
    report: t.Callable[[KerberosLogin | KerberosRefusal], None] | None = None  # told of each (python -m hvsim prints)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def export(self) -> None:
        """Point MIT's acceptor at the keytab (KRB5_KTNAME is read by each gss_accept_sec_context)."""
        os.environ['KRB5_KTNAME'] = f'FILE:{self.keytab}' if ':' not in self.keytab else self.keytab

    def login(self, host: str, principal: str, delegated: bool) -> None:
        self._record(self.logins, KerberosLogin(host, principal, delegated))

    def refuse(self, host: str, reason: str) -> None:
        self._record(self.refusals, KerberosRefusal(host, reason))

    def _record(self, where: list, event) -> None:
        with self._lock:
            where.append(event)
        if self.report is not None:
            self.report(event)

    def clear(self) -> None:
        """Forget the record (a test's own start)."""
        with self._lock:
            self.logins.clear()
            self.refusals.clear()


def parse_methods(methods) -> tuple[str, ...] | None:
    """'kerberos,basic' or ['kerberos'] -> ('kerberos', ...), checked; None stays None (the lab decides)."""
    if methods is None:
        return None
    items = [item.strip().lower() for item in (methods.split(',') if isinstance(methods, str) else methods)]
    unknown = sorted(set(items) - set(AUTH_METHODS))
    if unknown or not items:
        raise ValueError(f'auth methods must be some of {", ".join(AUTH_METHODS)}; got {methods!r}')
    return tuple(dict.fromkeys(items))


def realm_user(principal: str) -> tuple[str, str] | None:
    """'user@REALM' -> ('user', 'REALM'); None for anything else (NTLM's DOMAIN\\user)."""
    name, sep, realm = principal.rpartition('@')
    return (name, realm) if sep and name and '\\' not in principal else None


def same_account(known: tuple[str, str], user: str, realm: str) -> bool:
    """Whether a host user ('LAB\\hvadmin' split as (domain, name)) is this Kerberos principal: a domain's NetBIOS
    name is its DNS name's first label, so LAB\\hvadmin is hvadmin@LAB.EXAMPLE; an account without a domain
    matches in any realm."""
    domain, name = known
    if name.lower() != user.lower():
        return False
    return not domain or domain.lower() in (realm.lower(), realm.split('.')[0].lower())


def enable(simulator, service: KerberosService, methods=None):
    """Make a started simulator's hosts accept Kerberos with the service's keytab; returns the simulator.

    methods (see parse_methods) picks what every host offers and accepts, e.g. ('kerberos',) for a domain that
    turned NTLM off; None keeps each host's lab settings (Basic, Negotiate/NTLM) and adds Kerberos. A host's
    policy is read per request, so this applies to connections already open too.
    """
    chosen = parse_methods(methods)
    service.export()
    for name, runtime in simulator.runtimes.items():
        runtime.policy = functools.partial(_policy_with_kerberos, runtime.policy, service, chosen, name)
    simulator.kerberos = service
    return simulator


def _policy_with_kerberos(lab_policy, service: KerberosService, methods: tuple[str, ...] | None, host: str):
    policy = lab_policy()
    if methods is None:
        return dataclasses.replace(policy, kerberos=service, host=host)
    return dataclasses.replace(policy, basic='basic' in methods, negotiate=True, ntlm='ntlm' in methods,
                               kerberos=service if 'kerberos' in methods else None, host=host)


def refusal_reason(token: bytes, fallback: str) -> str:
    """Why MIT's acceptor refuses a token, in its words ('Clock skew too great', 'Wrong principal in request', ...).

    pyspnego hides the GSS status of a failed accept behind an AttributeError, so the token is offered once more,
    to gss_accept_sec_context directly, only to read the reason. That second look goes without a replay cache:
    the first accept may have recorded the authenticator (it does before the clock skew check), and the reason
    would then be 'Request is a replay'."""
    try:
        import gssapi.raw  # pylint: disable=import-outside-toplevel
        acceptor = gssapi.raw.acquire_cred_from({b'rcache': b'none:'}, usage='accept').creds
        gssapi.raw.accept_sec_context(token, acceptor)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # any GSSError is the answer
        said = exc.gen_message() if hasattr(exc, 'gen_message') else str(exc)
        return said.rpartition('Minor (')[2].partition('): ')[2] or said  # MIT's own words, without the codes
    return fallback
