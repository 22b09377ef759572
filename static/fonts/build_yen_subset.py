"""Rebuild coinpurse-yen-*.woff2: the one glyph U+FFE5 (FULLWIDTH YEN SIGN) of Noto Sans CJK JP.

A build tool, not a dependency of the shop (see README.md beside this file):
    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb /tmp/noto
    python -m pip install fonttools brotli
    python static/fonts/build_yen_subset.py /tmp/noto/usr/share/fonts/opentype/noto
"""

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

HERE = Path(__file__).resolve().parent
GLYPHS = [0xFFE5]
FAMILY = "Coinpurse Yen"  # renamed: a modified font does not carry the original's name


def build(source: Path, weight: str, out: Path) -> None:
    font = TTCollection(str(source)).fonts[0]  # index 0 of the collection is the JP face
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = []
    options.hinting = False
    options.desubroutinize = True
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=GLYPHS)
    subsetter.subset(font)
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 3, 4, 6, 16, 17):
            names.removeNames(nameID=record.nameID)
    postscript = FAMILY.replace(" ", "") + "-" + weight
    names.setName(FAMILY, 1, 3, 1, 0x409)
    names.setName(f"{FAMILY} {weight}", 4, 3, 1, 0x409)
    names.setName(postscript, 3, 3, 1, 0x409)
    names.setName(postscript, 6, 3, 1, 0x409)
    font.flavor = "woff2"
    font.save(str(out))


if __name__ == "__main__":
    noto = Path(sys.argv[1])
    for weight in ["Regular", "Bold"]:
        target = HERE / f"coinpurse-yen-{weight.lower()}.woff2"
        build(noto / f"NotoSansCJK-{weight}.ttc", weight, target)
        print(target.name, target.stat().st_size, "bytes")
