"""NKey user seeds and public keys for tests, made with the openssl command (Ed25519), so the
exporter's own derivation is checked against an independent one and a real nats-server."""
import base64
import os
import subprocess

_PREFIX_SEED = 18 << 3
_PREFIX_USER = 20 << 3


def _crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _encode(raw):
    crc = _crc16(raw)
    return base64.b32encode(raw + bytes([crc & 0xFF, crc >> 8])).decode().rstrip("=")


def user_pair(raw_seed=None):
    """(seed "SU...", public key "U...") of a user NKey."""
    raw_seed = raw_seed if raw_seed is not None else os.urandom(32)
    der = bytes.fromhex("302e020100300506032b657004220420") + raw_seed
    pub_der = subprocess.run(["openssl", "pkey", "-inform", "DER", "-pubout", "-outform", "DER"],
                             input=der, capture_output=True, check=True).stdout
    pub = pub_der[-32:]
    seed = _encode(bytes([_PREFIX_SEED | (_PREFIX_USER >> 5), (_PREFIX_USER & 31) << 3]) + raw_seed)
    return seed, _encode(bytes([_PREFIX_USER]) + pub)


if __name__ == "__main__":
    print(*user_pair(bytes(range(32))))
