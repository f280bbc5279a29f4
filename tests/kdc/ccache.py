# Copyright (c) vmgate.hyperv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rewrite the times a FILE credential cache shows for its tickets (format version 4, as MIT writes it).

A client trusts the times the cache shows beside each ticket; the service decrypts the ticket and reads the
times inside it. stretch_endtimes() makes every ticket look valid to the client until `end` while the ticket
itself stays as the KDC issued it: the only way to have a host see an expired ticket, since an MIT client never
sends a ticket it knows to be expired, nor an authenticator further from the host's clock than the clock skew
(so a host whose clock is off says 'Clock skew too great' before it looks at the ticket's end).
"""

from __future__ import annotations

import os
import struct


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise ValueError('truncated credential cache')
        chunk = self.data[self.at:self.at + size]
        self.at += size
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack('>H', self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack('>I', self.take(4))[0]

    def counted(self) -> bytes:
        return self.take(self.u32())

    def principal(self) -> str:
        self.u32()  # name type
        count = self.u32()
        realm = self.counted().decode()
        return '/'.join(self.counted().decode() for _component in range(count)) + '@' + realm


def stretch_endtimes(path: str | os.PathLike, end: int) -> list[str]:
    """Set the shown end time of every ticket in the cache to `end` (seconds since the epoch); returns the
    server principals of the tickets changed."""
    with open(path, 'rb') as handle:
        data = bytearray(handle.read())
    reader = _Reader(bytes(data))
    if reader.u16() != 0x0504:
        raise ValueError('not a version 4 FILE credential cache')
    reader.take(reader.u16())  # header tags (e.g. the KDC time offset)
    reader.principal()  # default principal
    changed = []
    while reader.at < len(data):
        reader.principal()  # client
        server = reader.principal()
        reader.u16()  # key's enctype
        reader.counted()  # key
        times_at = reader.at
        _authtime, _starttime, _endtime, _renew_till = (reader.u32() for _time in range(4))
        reader.u8()  # is_skey
        reader.u32()  # ticket flags
        for _address in range(reader.u32()):  # addresses
            reader.u16()
            reader.counted()
        for _entry in range(reader.u32()):  # authorization data
            reader.u16()
            reader.counted()
        ticket = reader.counted()
        reader.counted()  # second ticket
        if ticket and not server.startswith('X-CACHECONF:'):  # configuration entries hold no ticket
            data[times_at + 8:times_at + 12] = struct.pack('>I', end)
            changed.append(server)
    with open(path, 'wb') as handle:
        handle.write(bytes(data))
    return changed
