"""Hostile replies: hvsim serves these bytes (its `raw` fault, encrypted like any reply) instead of a real
enumeration result, and the WS-Management client reads them over a real socket with NTLM and message encryption.

Each one is refused with a ResponseError that says why; no entity is ever expanded, no file is ever read.
"""

from __future__ import annotations

import sys
import uuid

import pytest
import yaml

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVHost
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import soap as wsman_xml
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import MAX_RESPONSE_BYTES, WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import ResponseError
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
from hvsim.pytest_fixtures import HVSIM_PASSWORD, HVSIM_USER, hvsim_lab, hvsim_session  # noqa: F401  pylint: disable=unused-import
from integration.conftest import run_playbook  # noqa: F401  pylint: disable=unused-import

HOST = "HV-OLD-01"
OP = "Enumerate:Msvm_ComputerSystem"
OPEN = (b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">'
        b'<s:Header/><s:Body><n:EnumerateResponse><w:Items>')
CLOSE = b'</w:Items><w:EndOfSequence/></n:EnumerateResponse></s:Body></s:Envelope>'
INSTANCE = (b'<p:Msvm_ComputerSystem xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/'
            b'Msvm_ComputerSystem"><p:Name>6C9A2A5F-7F1B-4D4B-9C1E-0F0E1D2C3B4A</p:Name><p:ElementName>web01</p:ElementName>'
            b'<p:Caption>Virtual Machine</p:Caption><p:EnabledState>2</p:EnabledState></p:Msvm_ComputerSystem>')
VALID = OPEN + INSTANCE + CLOSE
FIXED_ID = uuid.UUID("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0")
RELATES_TO_FIXED_ID = (b'<s:Header><a:RelatesTo xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing">uuid:%s</a:RelatesTo>'
                       b'</s:Header>' % str(FIXED_ID).encode())
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (level, (b"&lol%d;" % (level - 1) if level > 1 else b"&lol;") * 10)
                     for level in range(1, 10))
          + b']>' + OPEN.replace(b"<w:Items>", b"<w:Items>&lol9;") + CLOSE)

HOSTILE = {
    # name: (body, what the error must say)
    "huge": (VALID.replace(b"<s:Header/>", b"<s:Header><!--" + b"x" * (MAX_RESPONSE_BYTES + 1) + b"--></s:Header>"),
             "larger than the"),
    "truncated": (VALID[: len(VALID) // 2], "not well-formed"),
    "garbled": (bytes(range(256)) * 4, "not well-formed"),
    "not-utf8": (VALID.replace(b"web01", b"web\xff\xfe01"), "not well-formed"),
    "empty": (b"", "not well-formed"),
    "html-error-page": (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "no SOAP body"),
    "doctype": (b'<!DOCTYPE s:Envelope []>' + VALID, "DTD"),
    "billion-laughs": (LAUGHS, "DTD"),
    "external-entity": (b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                        + VALID.replace(b"<p:ElementName>web01", b"<p:ElementName>&xxe;"), "DTD"),
    "external-dtd": (b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd">' + VALID, "DTD"),
    "parameter-entity": (b'<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>' + VALID, "DTD"),
    "deeply-nested": (VALID.replace(b"<p:Caption>", b"<p:x>" * 50_000 + b"</p:x>" * 50_000 + b"<p:Caption>"), "nested"),
}


def host_api(sim, host: str = HOST) -> HyperVHost:
    handle = sim.hosts[host]
    settings = WinRMSettings(host=handle.bind, port=handle.http_port, scheme="http", username=HVSIM_USER,
                             password=HVSIM_PASSWORD).check()
    return HyperVHost(WSManClient(settings))


def test_the_valid_reply_is_read(hvsim_lab, monkeypatch):
    """The control: the same bytes, unharmed and relating to the request (its MessageID fixed for that), are a VM."""
    monkeypatch.setattr(wsman_xml, "uuid", type("FixedUuid", (), {"uuid4": staticmethod(lambda: FIXED_ID)}))
    hvsim_lab.inject(HOST, "raw", op=OP, body=VALID.replace(b"<s:Header/>", RELATES_TO_FIXED_ID))
    vms = host_api(hvsim_lab).virtual_machines(["web01"])
    assert [(vm["ElementName"], vm["EnabledState"]) for vm in vms] == [("web01", 2)]


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_reply_is_refused_with_its_reason(hvsim_lab, name):
    body, said = HOSTILE[name]
    hvsim_lab.inject(HOST, "raw", op=OP, body=body)
    with pytest.raises(ResponseError) as raised:
        host_api(hvsim_lab).virtual_machines(["web01"])
    message = str(raised.value)
    assert said in message and message.startswith(f"http://{hvsim_lab.hosts[HOST].bind}:"), message
    assert "root:" not in message and "lollol" not in message and len(message) < 500, message


def test_compat_facts_names_the_refusal(hvsim_lab, run_playbook, tmp_path):
    """What a person reads at the terminal when a host's reply carries a DTD."""
    hvsim_lab.inject(HOST, "raw", op=OP, body=HOSTILE["external-entity"][0])
    handle = hvsim_lab.hosts[HOST]
    variables = {"ansible_host": handle.bind, "ansible_port": handle.http_port, "ansible_connection": "winrm",
                 "ansible_winrm_scheme": "http", "ansible_winrm_transport": "ntlm", "ansible_user": HVSIM_USER,
                 "ansible_password": HVSIM_PASSWORD, "ansible_python_interpreter": sys.executable}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {HOST: variables}}}))
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{
        "name": "Gather", "hosts": HOST, "gather_facts": False,
        "tasks": [{"name": "Read web01", "vmgate.hyperv.compat_facts": {"vms": ["web01"]}}]}]))
    result = run_playbook(tmp_path / "play.yml", "-i", str(tmp_path / "hosts.yml"))
    assert result.returncode == 2, result.stdout
    assert "HV-OLD-01: finding the requested VMs (Msvm_ComputerSystem): the reply from http://" in result.stdout
    assert "contains a DTD or an entity declaration, which is refused" in result.stdout
    assert "Traceback" not in result.stdout and "root:" not in result.stdout
