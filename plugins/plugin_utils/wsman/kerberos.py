# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kerberos on the controller: a ticket from ansible_user/ansible_password, and messages for Kerberos failures.

pywinrm's Kerberos (pykerberos) only ever uses the default credential cache and never a password. As Ansible's
winrm connection does, a password given with transport kerberos gets a ticket first (forwardable when delegation
is on) and KRB5CCNAME points at it for this process; here the cache is in memory, so the ticket is in no file.
Without a password the ticket must already be in the cache (kinit before the run).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
import typing as t

try:
    import krb5
except ImportError as import_error:  # only a password-based Kerberos login needs it
    KRB5_IMPORT_ERROR: ImportError | None = import_error
else:
    KRB5_IMPORT_ERROR = None

# requests-kerberos (vendored by pywinrm) logs the Authorization header, i.e. the ticket, at DEBUG: never let it.
logging.getLogger("winrm.vendor.requests_kerberos").setLevel(logging.INFO)

FIX_CACHE = "run kinit USER@REALM on the controller before the play, or set ansible_user (USER@REALM) and ansible_password"
SKEW_LIMIT = "5 minutes, Kerberos' default limit"


class KerberosLoginError(Exception):
    """The controller could not get a ticket with the password; the message says why and what to do."""


def use_password(username: str, password: str, forwardable: bool) -> None:
    """Get a ticket for username with password into a memory credential cache of this process, and make it the
    default (KRB5CCNAME) so that pywinrm's Kerberos uses it. Done once per user, password and delegation."""
    if KRB5_IMPORT_ERROR is not None:
        raise KerberosLoginError(
            "Kerberos with ansible_password needs the Python package krb5 on the controller "
            f"(pip install 'pyspnego[kerberos]'): {KRB5_IMPORT_ERROR}")
    name = _cache_name(username, password, forwardable)
    if os.environ.get("KRB5CCNAME") == name:
        return
    context = krb5.init_context()
    try:
        principal = krb5.parse_name_flags(context, username.encode("utf-8"))
        options = krb5.get_init_creds_opt_alloc(context)
        krb5.get_init_creds_opt_set_canonicalize(options, True)
        krb5.get_init_creds_opt_set_forwardable(options, forwardable)
        credentials = krb5.get_init_creds_password(context, principal, options, password=password.encode("utf-8"))
        cache = krb5.cc_resolve(context, name.encode("utf-8"))
        krb5.cc_initialize(context, cache, credentials.client)
        krb5.cc_store_cred(context, cache, credentials)
    except krb5.Krb5Error as exc:
        raise KerberosLoginError(explain(_krb5_text(exc), username=username, password_login=True)) from None
    os.environ["KRB5CCNAME"] = name


def _cache_name(username: str, password: str, forwardable: bool) -> str:
    """A memory cache per login: another password or delegation setting gets another ticket."""
    digest = hashlib.sha256(f"{username}\0{password}\0{forwardable}".encode("utf-8")).hexdigest()[:16]
    return f"MEMORY:vmgate-{os.getpid()}-{digest}"


def _krb5_text(exc: Exception) -> str:
    message = getattr(exc, "message", None)
    if isinstance(message, bytes):
        return message.decode("utf-8", "replace")
    return str(message or exc)


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


# (what the Kerberos library says, lower case) -> the cause and the fix. Checked in order.
def explain(text: str, *, host: str = "", username: str | None = None, spn_host: str | None = None,
            password_login: bool = False) -> str:
    """A Kerberos failure as the cause and the fix; text is the library's message (GSS/krb5 minor status)."""
    said = text.lower()
    target = spn_host or host
    realm = username.rpartition("@")[2] if username and "@" in username else ""
    if re.search(r"server \S*\s*not found in kerberos database|server principal unknown", said):
        if is_ip_address(target):
            return (f"Kerberos cannot be used with the host named by its IP address {target}: a ticket is issued for a "
                    f"service principal name (HTTP/<host name>), and there is none for an address. Fix: name the host "
                    "by its fully qualified domain name in ansible_host (and in DNS), or set "
                    "ansible_winrm_kerberos_hostname_override to that name; or use NTLM over HTTPS for such a host.")
        return (f"The KDC knows no service principal HTTP/{target}, so no ticket can be had for it. Fix: use the "
                "host's fully qualified domain name as registered in Active Directory (not an alias or a short "
                f"name), or register the SPN (setspn -S HTTP/{target} <computer account>).")
    if "clock skew too great" in said:
        return ("Kerberos refused: the clocks of the controller and the KDC differ by more than "
                f"{SKEW_LIMIT} (clock skew). Fix: synchronise the controller's clock (NTP, chrony) with the domain's "
                "time source, then get a new ticket.")
    if "cannot contact any kdc" in said or "cannot reach any kdc" in said or "unable to reach any kdc" in said:
        where = f" for realm {realm}" if realm else ""
        return (f"The KDC{where} is unreachable from the controller (no answer on port 88). Fix: check the kdc "
                "entries of the realm in krb5.conf (or DNS SRV records _kerberos._tcp), and that a firewall lets the "
                "controller reach a domain controller on TCP/UDP 88.")
    if "cannot find kdc for realm" in said or "realm not local" in said or "cannot resolve network address for kdc in realm" in said:
        return (f"The realm {realm or '(of the user)'} is not one krb5.conf knows (wrong realm). Fix: write the user as "
                "USER@REALM with the realm in upper case as Active Directory's DNS domain (e.g. ops@CORP.EXAMPLE.COM), "
                "and give that realm a [realms] entry in /etc/krb5.conf or enable dns_lookup_kdc.")
    if re.search(r"client \S*\s*not found in kerberos database", said):
        return (f"The KDC knows no user {username or ''} in that realm (wrong user or wrong realm). Fix: check "
                "ansible_user: USER@REALM, the realm in upper case, the user's sAMAccountName.")
    if "can't find client principal" in said or "matching credential not found" in said:
        return (f"The credential cache holds no ticket for {username or 'that user'} (wrong realm or another user's "
                f"ticket). Fix: {FIX_CACHE}; the realm is upper case.")
    if "ticket expired" in said or "credentials have expired" in said or "credential has expired" in said:
        return f"The Kerberos ticket in the cache has expired. Fix: {FIX_CACHE}; klist shows the tickets and their end."
    if "preauthentication failed" in said or "password incorrect" in said or "decrypt integrity check failed" in said:
        return "The KDC refused the password for the user (wrong password). Fix: check ansible_password for that user."
    if "no kerberos credentials available" in said or "no credentials cache found" in said or "not found" in said and "credentials cache" in said:
        return f"There is no Kerberos ticket in the controller's credential cache (no ticket). Fix: {FIX_CACHE}."
    if password_login:
        return f"The controller could not get a Kerberos ticket for {username}: {text}"
    return f"Kerberos failed on the controller: {text}"


def rejected(host: str, spn_host: str | None = None) -> str:
    """HTTP 401 to a Kerberos ticket: the host itself refused it."""
    spn = f"HTTP/{spn_host or host}"
    return (f"the host refused the Kerberos ticket for {spn} (HTTP 401). Causes, most likely first: the host's clock "
            f"differs from the domain's by more than {SKEW_LIMIT} (clock skew, fix the host's time service); the "
            f"ticket was issued for another service, i.e. {spn} is registered to another computer account or the "
            "host's keys changed (check setspn -Q on it, then kdestroy and get a new ticket); the ticket expired "
            "(kinit again); or the user is not allowed to use WinRM on it (Remote Management Users or "
            "Administrators).")


def transport_error_text(exc: BaseException) -> t.Optional[str]:
    """The Kerberos library's words in a pykerberos/requests-kerberos error, or None when it is not one."""
    name = type(exc).__name__
    if name not in ("KerberosExchangeError", "GSSError", "MutualAuthenticationError"):
        return None
    return str(exc)
