"""Replies that answer another request, and service keys that change under the client, against hvsim over a real
socket (NTLM, message encryption), through the real client.

- A reply whose RelatesTo names another request, or a data reply that names none, is refused: nothing is read
  from it (WS-Addressing 2004/08 section 3: a reply MUST carry RelatesTo). The same bytes relating to the
  request sent are read: the control that shows the check, not the bytes, refuses them.
- Stale migration service keys are answered as Windows answers them (a:DestinationUnreachable, WSManFault
  2150858752): the client reads the service again and calls once more.
"""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.hyperv.api import HyperVHost
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import soap as wsman_xml
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.client import WSManClient
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.errors import CredentialEncodingError, MismatchedReply, WSManFault
from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman.settings import WinRMSettings
from hvsim.pytest_fixtures import HVSIM_PASSWORD, HVSIM_USER, hvsim_factory, hvsim_lab, hvsim_session  # noqa: F401  pylint: disable=unused-import

HOST = "HV-OLD-01"
VECTORS_OP = "Invoke:GetSystemCompatibilityVectors"
SENT_ID = uuid.UUID("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0")  # the MessageID the client is made to send
OTHER_ID = "uuid:5C1D0E2F-3A4B-4C5D-8E6F-708192A3B4C5"  # another request's
SERVICE = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/Msvm_VirtualSystemMigrationService"


def reply(relates_to: str | None, body: str, action: str = f"{SERVICE}/GetSystemCompatibilityVectorsResponse") -> bytes:
    """An envelope relating to `relates_to` (None: no RelatesTo)."""
    header = f"<a:RelatesTo>{relates_to}</a:RelatesTo>" if relates_to is not None else ""
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Header><a:Action>{action}</a:Action>'
        f"<a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def vectors_reply(relates_to: str | None) -> bytes:
    """A GetSystemCompatibilityVectors reply with one vector."""
    return reply(relates_to, f'<p:GetSystemCompatibilityVectors_OUTPUT xmlns:p="{SERVICE}">'
                 '<p:CompatibilityVectors xsi:type="p:Msvm_CompatibilityVector_Type"><p:CompareOperation>2</p:CompareOperation>'
                 "<p:CompatibilityInfo>255</p:CompatibilityInfo><p:VectorId>1</p:VectorId></p:CompatibilityVectors>"
                 "<p:ReturnValue>0</p:ReturnValue></p:GetSystemCompatibilityVectors_OUTPUT>")


def stale_selectors_fault(relates_to: str | None) -> bytes:
    """The stale-selectors fault in Windows' shape (see test_wsman_real_faults.py for its sources)."""
    return reply(relates_to, '<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>a:DestinationUnreachable</s:Value>'
                 '</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">The WS-Management service cannot process the request. '
                 'The service cannot find the resource identified by the resource URI and selectors. </s:Text></s:Reason>'
                 '<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2150858752" '
                 'Machine="hv-old-01"/></s:Detail></s:Fault>', action="http://schemas.xmlsoap.org/ws/2004/08/addressing/fault")


def host_api(sim) -> HyperVHost:
    handle = sim.hosts[HOST]
    settings = WinRMSettings(host=handle.bind, port=handle.http_port, scheme="http", username=HVSIM_USER,
                             password=HVSIM_PASSWORD).check()
    return HyperVHost(WSManClient(settings))


@pytest.fixture
def fixed_message_id(monkeypatch):
    """The client's requests carry SENT_ID, so that a canned reply can relate to them (or not)."""
    monkeypatch.setattr(wsman_xml, "uuid", type("FixedUuid", (), {"uuid4": staticmethod(lambda: SENT_ID)}))


def read_vectors(sim) -> list[dict]:
    """web01's vectors, with the service keys compat_facts records (the host's own, unless the lab changed them)."""
    api = host_api(sim)
    api.use_known_service({"CreationClassName": "Msvm_VirtualSystemMigrationService", "Name": "migrationwmi",
                           "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": HOST})
    return api.vectors({"Name": sim.guid("web01")})


def test_a_reply_relating_to_the_request_is_read(hvsim_lab, fixed_message_id):  # pylint: disable=unused-argument
    """The control: the reply that relates to the request sent (written in capitals, as a host may) is read."""
    hvsim_lab.inject(HOST, "raw", op=VECTORS_OP, body=vectors_reply(f"uuid:{str(SENT_ID).upper()}"))
    assert read_vectors(hvsim_lab) == [{"vector_id": 1, "compare_operation": 2, "compatibility_info": 255}]


@pytest.mark.parametrize("relates_to, said", [(OTHER_ID, f"answers '{OTHER_ID}'"), (None, "names no request")],
                         ids=["another-request", "no-relates-to"])
def test_a_reply_to_another_request_is_never_data(hvsim_lab, fixed_message_id, relates_to, said):  # pylint: disable=unused-argument
    hvsim_lab.inject(HOST, "raw", op=VECTORS_OP, body=vectors_reply(relates_to))
    with pytest.raises(MismatchedReply) as raised:
        read_vectors(hvsim_lab)
    message = str(raised.value)
    assert "the host answered another request" in message and said in message, message
    assert f"uuid:{SENT_ID}" in message and "nothing was read from it" in message, message
    assert hvsim_lab.counters(HOST) == {VECTORS_OP: 1}  # refused, not sent again


def test_a_fault_relating_to_another_request_is_not_taken_for_the_answer(hvsim_lab, fixed_message_id):  # pylint: disable=unused-argument
    """A stale-selectors fault for another request must not make the client read the service again and call twice."""
    hvsim_lab.inject(HOST, "raw", op=VECTORS_OP, body=stale_selectors_fault(OTHER_ID), status=500)
    with pytest.raises(MismatchedReply):
        read_vectors(hvsim_lab)
    assert hvsim_lab.counters(HOST) == {VECTORS_OP: 1}


def test_a_fault_without_relates_to_is_still_a_fault(hvsim_lab, fixed_message_id):  # pylint: disable=unused-argument
    """A host may fault before it reads the MessageID; a fault is never data, so it is taken as the fault it is."""
    hvsim_lab.inject(HOST, "raw", op=VECTORS_OP, body=stale_selectors_fault(None), status=500, times=1)
    assert read_vectors(hvsim_lab)  # the stale-selectors fault: the service read again, the call sent again
    assert hvsim_lab.counters(HOST) == {VECTORS_OP: 2, "Enumerate:Msvm_VirtualSystemMigrationService": 1}


def test_stale_recorded_keys_are_read_again(hvsim_lab):
    """Keys compat_facts recorded on another day: the host renamed its service since."""
    hvsim_lab.lab.host(HOST).migration.service_name = "migrationwmi-renamed"
    vectors = read_vectors(hvsim_lab)
    assert vectors and all(vector["vector_id"] for vector in vectors)
    assert hvsim_lab.counters(HOST) == {VECTORS_OP: 2, "Enumerate:Msvm_VirtualSystemMigrationService": 1}


def test_service_keys_that_change_between_two_calls_are_read_again(hvsim_lab):
    """The service the client read is renamed before its second call: that call is answered with the stale-selectors
    fault, and the client reads the service again and calls once more."""
    api = host_api(hvsim_lab)
    assert api.vectors({"Name": hvsim_lab.guid("web01")})

    def rename() -> None:
        hvsim_lab.lab.host(HOST).migration.service_name = "migrationwmi-renamed"

    hvsim_lab.inject(HOST, "call", op=VECTORS_OP, action=rename, times=1)
    assert api.vectors({"Name": hvsim_lab.guid("web01")})
    assert hvsim_lab.counters(HOST) == {VECTORS_OP: 3, "Enumerate:Msvm_VirtualSystemMigrationService": 2}
    assert api.migration_service()["Name"] == "migrationwmi-renamed"


def test_a_vanished_service_is_a_fault_after_one_more_read(hvsim_lab):
    """Read again, the keys still match nothing (the service went away for good): the fault, once, not a loop."""
    api = host_api(hvsim_lab)
    assert api.vectors({"Name": hvsim_lab.guid("web01")})

    def rename() -> None:
        hvsim_lab.lab.host(HOST).migration.service_name = f"migrationwmi-{uuid.uuid4()}"

    hvsim_lab.inject(HOST, "call", op=VECTORS_OP, action=rename, times=2)
    with pytest.raises(WSManFault) as raised:
        api.vectors({"Name": hvsim_lab.guid("web01")})
    assert raised.value.instance_missing and not raised.value.namespace_missing
    assert "a:DestinationUnreachable, WSManFault 2150858752" in str(raised.value)
    assert hvsim_lab.counters(HOST)[VECTORS_OP] == 3


@pytest.mark.parametrize("password", ["é£ß", "plain-ascii"], ids=["latin-1", "ascii"])
def test_basic_over_https_with_a_latin_1_password_is_accepted(hvsim_factory, password):
    """Basic carries the password in Latin-1; a Western Windows host reads it in windows-1252, where these characters
    are the same bytes, and so does hvsim."""
    sim = hvsim_factory(https=True, users=[("lab\\latin", password)])
    handle = sim.hosts[HOST]
    settings = WinRMSettings(host=handle.bind, port=handle.https_port, scheme="https", transport="ssl", username="lab\\latin",
                             password=password, ca_trust_path=handle.ca_file).check()
    assert [vm["ElementName"] for vm in HyperVHost(WSManClient(settings)).virtual_machines(["web01"])] == ["web01"]


def test_basic_over_https_with_a_password_outside_latin_1_is_an_encoding_error(hvsim_factory):
    sim = hvsim_factory(https=True, users=[("lab\\wide", "pässwörd-密码")])
    handle = sim.hosts[HOST]
    settings = WinRMSettings(host=handle.bind, port=handle.https_port, scheme="https", transport="ssl", username="lab\\wide",
                             password="pässwörd-密码", ca_trust_path=handle.ca_file).check()
    with pytest.raises(CredentialEncodingError, match="the password has characters outside Latin-1"):
        HyperVHost(WSManClient(settings)).virtual_machines(["web01"])
    assert sim.counters(HOST) == {} and not sim.auth_counters(HOST)  # nothing was sent
