"""EKM meter CRC: CRC-16/MODBUS, sent low byte first with each byte masked to 7 bits."""


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16_modbus(data: bytes) -> int:
    """Return CRC-16/MODBUS (poly 0x8005 reflected, init 0xFFFF, no final XOR) of ``data``."""
    crc = 0xFFFF
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def ekm_crc(data: bytes) -> bytes:
    """Return the two CRC bytes as the meter sends them: low byte first, both ANDed with 0x7F.

    The mask keeps the CRC inside the 7-bit character set of a 7E1 line.
    """
    crc = crc16_modbus(data)
    return bytes((crc & 0x7F, (crc >> 8) & 0x7F))
