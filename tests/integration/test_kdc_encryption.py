# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hvsim's Kerberos message encryption as MS-WSMV frames it, by hand: the reply is encrypted under the protocol
name the client used (application/HTTP-Kerberos-session-encrypted or application/HTTP-SPNEGO-session-encrypted),
in the part headers and in the reply's Content-Type."""

from __future__ import annotations

import base64
import struct

import pytest
import requests
import spnego

from ansible_collections.vmgate.hyperv.plugins.plugin_utils.wsman import soap

BOUNDARY = b'--Encrypted Boundary'
KERBEROS = 'application/HTTP-Kerberos-session-encrypted'
SPNEGO = 'application/HTTP-SPNEGO-session-encrypted'


def seal(context, protocol: str, message: bytes) -> bytes:
    sealed = context.wrap_winrm(message)
    return (BOUNDARY + b'\r\n'
            + f'\tContent-Type: {protocol}\r\n'.encode()
            + f'\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={len(message)}\r\n'.encode()
            + BOUNDARY + b'\r\n\tContent-Type: application/octet-stream\r\n'
            + struct.pack('<I', len(sealed.header)) + sealed.header + sealed.data + BOUNDARY + b'--\r\n')


def unseal(context, body: bytes) -> bytes:
    payload = body.split(b'application/octet-stream\r\n', 1)[1].rsplit(BOUNDARY + b'--\r\n', 1)[0]
    (size,) = struct.unpack('<I', payload[:4])
    return context.unwrap_winrm(payload[4:4 + size], payload[4 + size:])


@pytest.mark.parametrize('protocol', [KERBEROS, SPNEGO], ids=['kerberos-protocol', 'spnego-protocol'])
def test_kdc_encrypted_reply_names_the_clients_protocol(kdc_lab, kdc, protocol):
    kdc.kinit()
    url = f'http://127.0.0.1:{kdc_lab.hosts["HV-OLD-01"].http_port}/wsman'
    context = spnego.client(hostname='localhost', service='HTTP', protocol='kerberos')
    with requests.Session() as session:  # one connection: the context is bound to it
        login = session.post(url, data=b'', timeout=10, headers={
            'Authorization': 'Kerberos ' + base64.b64encode(context.step()).decode()})
        assert login.status_code == 200
        context.step(base64.b64decode(login.headers['WWW-Authenticate'].split(' ', 1)[1]))  # mutual authentication
        assert context.complete
        document, _message_id = soap.envelope(
            endpoint=url, action='http://schemas.xmlsoap.org/ws/2004/09/transfer/Get',
            resource_uri='http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/Msvm_VirtualSystemManagementService',
            body='')
        reply = session.post(url, data=seal(context, protocol, document.encode()), timeout=10, headers={
            'Content-Type': f'multipart/encrypted;protocol="{protocol}";boundary="Encrypted Boundary"'})
    assert reply.headers['Content-Type'] == f'multipart/encrypted;protocol="{protocol}";boundary="Encrypted Boundary"'
    assert f'\tContent-Type: {protocol}\r\n'.encode() in reply.content
    assert b'Envelope' in unseal(context, reply.content)
