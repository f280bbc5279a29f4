# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authentication, message encryption, TLS and HTTP-level behaviour, driven by pywinrm over real sockets."""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import struct
from pathlib import Path

import pytest
import requests
import spnego
from winrm.exceptions import InvalidCredentialsError, WSManFaultError

from hvsim_tests.wsman_client import ENUMERATE, V2, Client, enumerate_body, envelope

QUERY = "SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'"


def test_ntlm_with_message_encryption_over_http(client, hvsim_lab):
    found, trips = client('HV-OLD-01').enumerate(QUERY)
    assert sorted(item['ElementName'] for item in found) == ['app01', 'web01']
    assert trips == 1
    assert hvsim_lab.counters('HV-OLD-01') == {'Enumerate:Msvm_ComputerSystem': 1}
    # pywinrm: anonymous POST -> 401, Negotiate type 1 -> 401 + challenge, type 3 (empty body) -> 200.
    assert hvsim_lab.auth_counters('HV-OLD-01') == {'challenge': 1, 'handshake': 2}


def test_the_encrypted_reply_is_framed_like_winrm(client):
    wsman = client('HV-NEW-01')
    transport = wsman.protocol.transport
    session = transport.build_session()
    request = transport.encryption.prepare_encrypted_request(
        session, wsman.endpoint, envelope(wsman.endpoint, ENUMERATE, V2 + '*', enumerate_body(QUERY)).encode())
    response = session.send(request, timeout=10)
    assert response.status_code == 200
    assert response.headers['Content-Type'] == (
        'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"')
    assert response.content.startswith(b'--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n')
    assert response.content.endswith(b'--Encrypted Boundary--\r\n')
    assert b'Msvm_ComputerSystem' not in response.content
    assert b'db01' in transport.encryption.parse_encrypted_response(response)


def test_basic_over_https_validates_against_the_generated_ca(client, hvsim_lab):
    found, _trips = client('HV-NEW-02', scheme='https', transport='basic').enumerate(QUERY)
    assert {item['ElementName'] for item in found} == {'analytics01', 'app01'}
    assert Path(hvsim_lab.ca_file).read_text(encoding='ascii').startswith('-----BEGIN CERTIFICATE-----')


def test_ntlm_over_https_without_encryption(client):
    found, _trips = client('HV-OLD-02', scheme='https', transport='ntlm', message_encryption='never').enumerate(QUERY)
    assert [item['ElementName'] for item in found] == ['legacy01']


@pytest.mark.parametrize('scheme, transport', [('http', 'ntlm'), ('https', 'basic'), ('https', 'ntlm')])
def test_wrong_password_is_401(client, hvsim_lab, scheme, transport):
    with pytest.raises(InvalidCredentialsError):
        client('HV-OLD-01', scheme=scheme, transport=transport, password='wrong').enumerate(QUERY)
    assert hvsim_lab.counters('HV-OLD-01') == {}
    assert hvsim_lab.auth_counters('HV-OLD-01')['rejected'] >= 1


def test_unknown_user_is_401(client):
    with pytest.raises(InvalidCredentialsError):
        client('HV-OLD-01', user='LAB\\mallory').enumerate(QUERY)


def test_basic_over_plain_http_is_refused_by_default(client, hvsim_lab):
    # AllowUnencrypted=false, as on a default Windows host: even the right password gets 401.
    with pytest.raises(InvalidCredentialsError):
        client('HV-OLD-01', transport='basic').enumerate(QUERY)
    assert hvsim_lab.auth_counters('HV-OLD-01') == {'rejected': 1}


def test_basic_over_http_works_where_unencrypted_is_allowed(hvsim_factory):
    sim = hvsim_factory({'hosts': [{'name': 'HV9', 'allow_unencrypted': True}]})
    user, password = sim.users[0]
    found, _trips = Client(sim.hosts['HV9'].http_endpoint, user, password, 'basic').enumerate('SELECT * FROM Msvm_ComputerSystem')
    assert [item['Name'] for item in found] == ['HV9']


def test_plaintext_ntlm_over_http_is_refused(client, hvsim_lab):
    with pytest.raises(InvalidCredentialsError):
        client('HV-OLD-01', message_encryption='never').enumerate(QUERY)
    assert hvsim_lab.auth_counters('HV-OLD-01')['rejected_unencrypted'] == 1


def test_missing_credentials_get_both_challenges(hvsim_lab):
    response = requests.post(hvsim_lab.hosts['HV-OLD-01'].http_endpoint, data=b'<x/>', timeout=5,
                             headers={'Content-Type': 'application/soap+xml;charset=UTF-8'})
    assert response.status_code == 401
    assert response.headers['WWW-Authenticate'] == 'Negotiate, Basic realm="WSMAN"'


def test_ntlm_authenticates_the_connection_not_the_request(client, hvsim_lab):
    wsman = client('HV-OLD-01')
    wsman.enumerate(QUERY)
    # A second TCP connection has no security context: the same encrypted message is refused there.
    body = wsman.protocol.transport.encryption.prepare_encrypted_request(
        wsman.protocol.transport.session, wsman.endpoint, b'<x/>').body
    handle = hvsim_lab.hosts['HV-OLD-01']
    connection = http.client.HTTPConnection(handle.bind, handle.http_port, timeout=5)
    connection.request('POST', '/wsman', body=body, headers={'Content-Type': 'multipart/encrypted;protocol="x"'})
    assert connection.getresponse().status == 401
    connection.close()


def test_certificate_whose_san_does_not_match_is_rejected(hvsim_factory):
    sim = hvsim_factory({'hosts': [{'name': 'HV9', 'tls_san_mismatch': True}, {'name': 'HV8'}]}, https=True)
    user, password = sim.users[0]
    with pytest.raises(requests.exceptions.SSLError):
        Client(sim.hosts['HV9'].https_endpoint, user, password, 'basic', ca_trust_path=sim.ca_file).enumerate('SELECT * FROM Msvm_ComputerSystem')
    found, _trips = Client(sim.hosts['HV8'].https_endpoint, user, password, 'basic', ca_trust_path=sim.ca_file).enumerate('SELECT * FROM Msvm_ComputerSystem')
    assert found[0]['Name'] == 'HV8'
    with pytest.raises(requests.exceptions.SSLError):  # without the CA, validation fails too
        Client(sim.hosts['HV8'].https_endpoint, user, password, 'basic').enumerate('SELECT * FROM Msvm_ComputerSystem')


def test_https_certificate_names_localhost_and_loopback(hvsim_lab):
    handle = hvsim_lab.hosts['HV-OLD-01']
    context = ssl.create_default_context(cafile=hvsim_lab.ca_file)
    for name in ('localhost', '127.0.0.1'):
        with socket.create_connection((handle.bind, handle.https_port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                assert tls.version() in ('TLSv1.2', 'TLSv1.3')


def _basic(hvsim_lab) -> dict:
    user, password = hvsim_lab.users[0]
    return {'Authorization': 'Basic ' + base64.b64encode(f'{user}:{password}'.encode()).decode(),
            'Content-Type': 'application/soap+xml;charset=UTF-8'}


def test_xml_with_a_dtd_is_refused(hvsim_lab):
    evil = b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><s>&b;</s>'
    response = requests.post(hvsim_lab.hosts['HV-OLD-01'].https_endpoint, data=evil, headers=_basic(hvsim_lab),
                             verify=hvsim_lab.ca_file, timeout=5)
    assert response.status_code == 400
    assert b'DTD' in response.content and b'w:InvalidBody' in response.content


def test_oversized_bodies_are_refused_before_reading(hvsim_lab):
    handle = hvsim_lab.hosts['HV-OLD-01']
    connection = http.client.HTTPConnection(handle.bind, handle.http_port, timeout=5)
    connection.putrequest('POST', '/wsman')
    connection.putheader('Content-Length', str(64 * 1024 * 1024))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()


def test_envelope_over_the_host_limit_is_an_encoding_fault(hvsim_factory):
    sim = hvsim_factory({'hosts': [{'name': 'HV9', 'max_envelope_size': 10000}]}, https=True)
    user, password = sim.users[0]
    wsman = Client(sim.hosts['HV9'].https_endpoint, user, password, 'basic', ca_trust_path=sim.ca_file)
    padding = '<!-- ' + 'x' * 20000 + ' -->'
    with pytest.raises(WSManFaultError) as caught:
        wsman.protocol.send_message(envelope(wsman.endpoint, ENUMERATE, V2 + '*', enumerate_body('SELECT * FROM Msvm_ComputerSystem') + padding))
    assert caught.value.fault_subcode == 'w:EncodingLimit'
    assert caught.value.wsman_fault_code == 2150858790


def test_spnego_wrapped_ntlm_with_the_final_token(hvsim_lab):
    """A client using pyspnego's negotiate protocol (SPNEGO around NTLM, mechListMIC in the 200's header)."""
    handle = hvsim_lab.hosts['HV-OLD-01']
    user, password = hvsim_lab.users[0]
    context = spnego.client(user, password, hostname=handle.bind, service='HTTP', protocol='negotiate')
    session = requests.Session()
    token = context.step()
    for expected in (401, 200):
        response = session.post(handle.http_endpoint, data=b'', timeout=5,
                                headers={'Authorization': 'Negotiate ' + base64.b64encode(token).decode()})
        assert response.status_code == expected
        token = context.step(base64.b64decode(response.headers['WWW-Authenticate'].split()[1]))
    assert context.complete
    message = envelope(handle.http_endpoint, ENUMERATE, V2 + '*', enumerate_body(QUERY)).encode()
    body = (b'--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n'
            b'\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=' + str(len(message)).encode() + b'\r\n'
            b'--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n'
            + struct.pack('<I', 16) + context.wrap(message, encrypt=True).data + b'--Encrypted Boundary--\r\n')
    response = session.post(handle.http_endpoint, data=body, timeout=5, headers={
        'Content-Type': 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"'})
    sealed = response.content.split(b'application/octet-stream\r\n', 1)[1][:-len(b'--Encrypted Boundary--\r\n')]
    assert struct.unpack('<I', sealed[:4])[0] == 16
    assert b'web01' in context.unwrap(sealed[4:]).data
