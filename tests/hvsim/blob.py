# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The opaque CompatibilityInfo blob: what GetSystemCompatibilityInfo hands out and CheckSystemCompatibilityInfo reads.

Layout (little endian): magic b'HVSIMCI' + format byte 1, uint32 payload length, UTF-8 JSON payload,
uint32 CRC-32 of the payload. The payload records what the destination needs to decide on its own:
kind (vm or host), source host, VM GUID/name, EnabledState and configuration version at capture time,
and the vectors in effect then. Clients must treat it as opaque; a stale blob is judged as captured.
"""

from __future__ import annotations

import json
import struct
import zlib

MAGIC = b'HVSIMCI\x01'
_HEADER = struct.Struct('<8sI')
_TRAILER = struct.Struct('<I')
MAX_BLOB = 64 * 1024


class BlobError(ValueError):
    """The bytes are not a compatibility blob this simulator produced (or they were altered)."""


def encode(payload: dict) -> bytes:
    """Serialize a payload into the opaque form."""
    body = json.dumps(payload, sort_keys=True, separators=(',', ':')).encode('utf-8')
    return _HEADER.pack(MAGIC, len(body)) + body + _TRAILER.pack(zlib.crc32(body))


def decode(data: bytes) -> dict:
    """Parse and verify a blob; raises BlobError on any damage."""
    if not isinstance(data, (bytes, bytearray)) or len(data) < _HEADER.size + _TRAILER.size:
        raise BlobError('compatibility information is too short')
    if len(data) > MAX_BLOB:
        raise BlobError('compatibility information is too large')
    magic, length = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise BlobError('compatibility information has an unknown format')
    if len(data) != _HEADER.size + length + _TRAILER.size:
        raise BlobError('compatibility information has the wrong length')
    body = bytes(data[_HEADER.size:_HEADER.size + length])
    (crc,) = _TRAILER.unpack_from(data, _HEADER.size + length)
    if zlib.crc32(body) != crc:
        raise BlobError('compatibility information failed its integrity check')
    try:
        payload = json.loads(body.decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BlobError(f'compatibility information is unreadable: {exc}') from exc
    if not isinstance(payload, dict) or payload.get('kind') not in ('vm', 'host'):
        raise BlobError('compatibility information is incomplete')
    vectors = payload.get('vectors', [])
    if not isinstance(vectors, list) or not all(
        isinstance(item, list) and len(item) == 3 and all(isinstance(part, int) for part in item) for item in vectors
    ):
        raise BlobError('compatibility information has malformed vectors')
    return payload
