"""The result files the fake Topview serves: a video and a cover image, made in code.

Each task gets its own bytes (seeded by its taskId), so a download that mixed up two tasks, or
lost a piece, shows in its checksum. The cover is a real PNG any image library opens. The video
is a well-formed MP4 box sequence (`ftyp`, then `mdat` filled to the size asked for): file type
detectors call it MP4, but it holds no playable track, since nothing here needs to play it.
"""

import hashlib
import struct
import zlib

VIDEO_NAME, COVER_NAME = "video.mp4", "cover.png"
CONTENT_TYPES = {VIDEO_NAME: "video/mp4", COVER_NAME: "image/png"}
DEFAULT_VIDEO_BYTES = 64 * 1024


def media_file(task_id: str, name: str, *, video_bytes: int = DEFAULT_VIDEO_BYTES) -> bytes:
    """The bytes of `name` (VIDEO_NAME or COVER_NAME) for this task; KeyError for other names."""
    if name == VIDEO_NAME:
        return fake_mp4(task_id, size=video_bytes)
    if name == COVER_NAME:
        return fake_png(task_id)
    raise KeyError(name)


def _filler(seed: str, size: int) -> bytes:
    block = hashlib.sha256(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def fake_mp4(task_id: str, *, size: int) -> bytes:
    """An MP4 of exactly `size` bytes (at least 40): an `ftyp` box and an `mdat` box."""
    ftyp_body = b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41"
    ftyp = struct.pack(">I", 8 + len(ftyp_body)) + b"ftyp" + ftyp_body
    mdat_size = max(size - len(ftyp), 8)
    return ftyp + struct.pack(">I", mdat_size) + b"mdat" + _filler(task_id, mdat_size - 8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def fake_png(task_id: str, *, width: int = 64, height: int = 36) -> bytes:
    """An 8-bit RGB PNG: a gradient whose colour is the task's."""
    red, green, blue = hashlib.sha256(task_id.encode()).digest()[:3]
    # Each row: filter type 0 (none), then its pixels.
    rows = b"".join(
        b"\x00" + bytes(value for x in range(width)
                        for value in (red, green, (blue + x * 4 + y * 2) % 256))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows)) + _png_chunk(b"IEND", b""))
