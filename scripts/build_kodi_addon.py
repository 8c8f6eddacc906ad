"""Build the installable Kodi addon zip: plugins/kodi/dist/service.simkl.bridge-<version>.zip.

The zip holds the addon folder at its top (what Kodi's "Install from zip file" expects), without
bytecode caches, plus the generated icon. Entries get fixed times and modes, so the same source
gives the same zip.

    python3 scripts/build_kodi_addon.py [--out DIR]
"""

from __future__ import annotations

import argparse
import struct
import sys
import xml.etree.ElementTree as ET
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "plugins" / "kodi" / "service.simkl.bridge"
DIST = ROOT / "plugins" / "kodi" / "dist"
ICON = "resources/icon.png"
ICON_SIZE = 256  # kodi-addon-checker accepts 256x256 or 512x512, solid (no alpha)
SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = {".pyc", ".pyo"}
ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def version(addon_dir: Path = ADDON) -> str:
    return ET.parse(addon_dir / "addon.xml").getroot().attrib["version"]


def icon_png(size: int = ICON_SIZE) -> bytes:
    """A solid dark tile with a light play triangle, as an RGB PNG (no Pillow in Kodi's build chain)."""
    background, mark = bytes((16, 32, 48)), bytes((230, 240, 250))
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")  # filter type 0 for the row
        for x in range(size):
            # the triangle's left edge at 0.3, its tip at 0.75 of the width, centred vertically
            u, v = x / size, abs(y / size - 0.5)
            inside = 0.3 <= u <= 0.75 and v <= 0.25 * (0.75 - u) / 0.45
            row += mark if inside else background
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")


def sources(addon_dir: Path = ADDON) -> list[Path]:
    return sorted(p for p in addon_dir.rglob("*")
                  if p.is_file() and not SKIP_DIRS & set(p.relative_to(addon_dir).parts) and p.suffix not in SKIP_SUFFIXES)


def build(out_dir: Path = DIST, addon_dir: Path = ADDON) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{addon_dir.name}-{version(addon_dir)}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sources(addon_dir):
            _add(zf, f"{addon_dir.name}/{path.relative_to(addon_dir).as_posix()}", path.read_bytes())
        _add(zf, f"{addon_dir.name}/{ICON}", icon_png())
    return target


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16  # never executable: the checker flags executable files
    zf.writestr(info, data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DIST, help=f"output folder (default {DIST.relative_to(ROOT)})")
    print(build(parser.parse_args(argv).out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
