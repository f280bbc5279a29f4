# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hvsim's pure parts: WQL, vector comparison, the blob, CIM-XML, the lab loader, the job clock."""

from __future__ import annotations

import pytest

from hvsim import blob, cimxml, compat, wql
from hvsim.jobs import MigrationJob
from hvsim.lab import Lab, LabError
from hvsim.pytest_fixtures import DEMO_LAB


@pytest.mark.parametrize('query, props, expected', [
    ("SELECT * FROM C WHERE A = 'x\\'y'", {'A': "x'y"}, True),
    ("SELECT * FROM C WHERE A = 'a\\\\b'", {'A': 'a\\b'}, True),
    ('SELECT * FROM C WHERE A = "dq"', {'A': 'DQ'}, True),
    ('SELECT * FROM C WHERE N >= 0x10 AND N < 20', {'N': 16}, True),
    ('SELECT * FROM C WHERE N = -3', {'N': -3}, True),
    ('SELECT * FROM C WHERE NOT (A = 1 OR A = 2)', {'A': 3}, True),
    ("SELECT * FROM C WHERE A LIKE 'a_c%'", {'A': 'abcdef'}, True),
    ("SELECT * FROM C WHERE A LIKE '[ab]x'", {'A': 'cx'}, False),
    ("SELECT * FROM C WHERE A NOT LIKE 'z%'", {'A': 'abc'}, True),
    ('SELECT * FROM C WHERE A IS NOT NULL', {'A': None}, False),
    ('SELECT * FROM C WHERE B = TRUE', {'B': True}, True),
    ("SELECT * FROM C WHERE B = 'false'", {'B': False}, True),
    ("SELECT * FROM C WHERE L = '1'", {'L': ['1']}, False),  # arrays never compare
    ('SELECT * FROM C WHERE A = NULL', {'A': None}, False),
    ('SELECT * FROM C WHERE A = 1 OR B = 2 AND C = 3', {'A': 1, 'B': 0, 'C': 0}, True),  # AND binds tighter
])
def test_wql_evaluation(query, props, expected):
    assert wql.parse(query).matches(props) is expected


@pytest.mark.parametrize('query', [
    '', 'SELECT', 'SELECT * FROM', 'SELECT * FROM C WHERE', 'SELECT * FROM C WHERE A =', "SELECT * FROM C WHERE A = 'x",
    'SELECT * FROM C WHERE (A = 1', 'SELECT * FROM C WHERE A = 1)', 'SELECT * FROM C C2', 'SELECT * FROM C WHERE 1 = 1',
    'SELECT * FROM C WHERE A ~ 1', 'SELECT * FROM C WHERE A IS 3', 'UPDATE C SET A = 1', 'SELECT *, A FROM C',
])
def test_wql_rejects(query):
    with pytest.raises(wql.WqlError):
        wql.parse(query)


def test_wql_literal_escaping_round_trips():
    for value in ["x' OR ElementName LIKE '%", 'back\\slash', "''", '\\']:
        assert wql.tokenize(wql.escape_literal(value))[0].value == value


@pytest.mark.parametrize('operation, vm, host, expected', [
    (0, 64, 64, True), (0, 64, 128, False),
    (1, 0b111, 0b011, True), (1, 0b001, 0b011, False),
    (2, 0b011, 0b111, True), (2, 0b1000, 0b0111, False),
    (3, 0b100, 0b011, True), (3, 0b110, 0b011, False),
    (4, 5, 4, True), (5, 4, 4, True), (6, 3, 4, True), (7, 5, 4, False),
    (8, 12, 4, True), (8, 12, 0, False),  # a zero divisor is incompatible, never a crash
    (9, 4, 12, True), (9, 0, 12, False),
    (42, 1, 1, False),  # unknown operation
])
def test_vector_operations(operation, vm, host, expected):
    assert compat.compatible(operation, vm, host) is expected


def test_missing_host_vector_is_a_mismatch():
    problems = compat.vector_mismatches([compat.Vector(7, 0, 1)], [compat.Vector(1, 2, 1)])
    assert problems == ['vector 7: the host reports no vector 7']


def test_version_support():
    support = compat.VersionSupport.parse('8.0-10.0')
    assert support.supports('9.0') and support.supports('10.0') and not support.supports('12.0') and not support.supports('x')
    assert str(compat.VersionSupport.parse(['8.0', '12.0', '9.1'])) == '8.0-12.0'


def test_blob_round_trip_and_tamper_detection():
    payload = {'kind': 'vm', 'vm_name': 'a', 'vectors': [[1, 2, 3]]}
    data = blob.encode(payload)
    assert blob.decode(data) == payload
    for damaged in (data[:-1], data[:10], b'X' + data[1:], data[:20] + bytes([data[20] ^ 1]) + data[21:], b''):
        with pytest.raises(blob.BlobError):
            blob.decode(damaged)


def test_cimxml_parse_and_render():
    text = ('<INSTANCE CLASSNAME="Msvm_VirtualSystemMigrationSettingData"><PROPERTY NAME="MigrationType" TYPE="uint16"><VALUE>32771</VALUE>'
            '</PROPERTY><PROPERTY NAME="Bandwidth" TYPE="uint64"/><PROPERTY.ARRAY NAME="DestinationIPAddressList" TYPE="string">'
            '<VALUE.ARRAY><VALUE>10.0.0.1</VALUE><VALUE>10.0.0.2</VALUE></VALUE.ARRAY></PROPERTY.ARRAY>'
            '<PROPERTY NAME="RetainVhdCopiesOnSource" TYPE="boolean"><VALUE>TRUE</VALUE></PROPERTY></INSTANCE>')
    instance = cimxml.parse_instance(text)
    assert instance.get('migrationtype') == 32771 and instance.get('Bandwidth') is None
    assert instance.get('DestinationIPAddressList') == ['10.0.0.1', '10.0.0.2'] and instance.get('RetainVhdCopiesOnSource') is True
    rendered = cimxml.render_instance('X', {'A': 1, 'L': ['a'], 'N': None}, {'A': 'uint16', 'L': 'string[]', 'N': 'string'})
    assert cimxml.parse_instance(rendered).properties == {'A': 1, 'L': ['a'], 'N': None}


@pytest.mark.parametrize('text', [
    '<INSTANCE><PROPERTY NAME="A"/></INSTANCE>',
    '<!DOCTYPE x [<!ENTITY e "e">]><INSTANCE CLASSNAME="X"/>',
    '<INSTANCE CLASSNAME="X"><PROPERTY NAME="A" TYPE="uint16"><VALUE>nope</VALUE></PROPERTY></INSTANCE>',
    '<INSTANCE CLASSNAME="X"><JUNK/></INSTANCE>',
    'not xml',
    '<INSTANCE CLASSNAME="X">' + 'x' * 70000 + '</INSTANCE>',
])
def test_cimxml_rejects(text):
    with pytest.raises(cimxml.CimXmlError):
        cimxml.parse_instance(text)


def test_demo_lab_loads_with_the_promised_profiles():
    lab = Lab.load(DEMO_LAB)
    assert list(lab.hosts) == ['HV-OLD-01', 'HV-OLD-02', 'HV-NEW-01', 'HV-NEW-02']
    assert [host.migration.enabled for host in lab.hosts.values()] == [True, False, True, True]
    assert sorted(vm.name for vm in lab.vms.values()).count('app01') == 2
    assert lab.vm('batch01').state == 3 and lab.vm('legacy01').compatibility_mode
    assert {vector.value for vector in lab.hosts['HV-NEW-01'].vectors} == {0xFFFFFFFFFFF, 231, 64}
    assert lab.resolve_host('hv-new-01.lab.example').name == 'HV-NEW-01' and lab.resolve_host('10.10.3.22').name == 'HV-NEW-02'
    assert lab.resolve_host('HV-NEW') is None


@pytest.mark.parametrize('definition, message', [
    ({}, 'at least one host'),
    ({'hosts': [{'name': 'A'}, {'name': 'a'}]}, 'duplicate host'),
    ({'hosts': [{'name': 'A', 'vectors': [{'id': 1, 'op': 2}]}]}, 'missing value'),
    ({'hosts': [{'name': 'A', 'blob_encoding': 'hex'}]}, 'expected one of base64, array'),
    ({'hosts': [{'name': 'A', 'migration': {'max_vm': 'many'}}]}, 'migration.max_vm: expected an integer'),
    ({'hosts': [{'name': 'A'}], 'vms': [{'name': 'v', 'host': 'B'}]}, "no host named 'B'"),
    ({'hosts': [{'name': 'A'}], 'vms': [{'name': 'v', 'host': 'A', 'guid': 'nope'}]}, 'not a GUID'),
    ({'hosts': [{'name': 'A'}], 'vms': [{'name': 'v', 'host': 'A', 'state': 'dancing'}]}, 'expected an integer'),
    ({'hosts': [{'name': 'A', 'supported_versions': 'ten'}]}, 'supported_versions'),
])
def test_lab_validation(definition, message):
    with pytest.raises(LabError, match=message):
        Lab(definition)


def test_job_clock():
    moved = []
    job = MigrationJob('G', 'vm', 'A', 'B', 'B', 32768, started=100.0, submitted_wall=0.0, duration=2.0, fail_at=None)
    job.advance(101.0, 0.0, lambda guid, host: moved.append((guid, host)))
    assert (job.state, job.percent, moved) == (4, 50, [])
    job.advance(102.5, 0.0, lambda guid, host: moved.append((guid, host)))
    assert (job.state, job.percent, moved) == (7, 100, [('G', 'B')])
    failing = MigrationJob('G', 'vm', 'A', 'B', 'B', 32768, started=0.0, submitted_wall=0.0, duration=1.0, fail_at=30)
    failing.advance(0.9, 0.0, lambda guid, host: moved.append('never'))
    assert (failing.state, failing.percent, failing.error_code, failing.elapsed(5.0)) == (10, 30, 32768, pytest.approx(0.3))
