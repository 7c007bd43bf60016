"""Facts about the real DVS128Objects recordings, measured once from the files.

Per file (relative to ``DVS128Objects/``): number of events (= (file size - 3412-byte header) / 8;
none is a special event) and the time from its first to its last event in µs.
"""

from __future__ import annotations

RECORDINGS = {
    "DataSet/box/caixa.aedat": (219_235, 22_088_023),
    "DataSet/mouse/Mouse_1.aedat": (338_857, 17_060_760),
    "DataSet/mouse/Mouse_official.aedat": (285_999, 17_513_336),
    "DataSet/scissors/tesoura_1.aedat": (306_461, 23_186_553),
    "DataSet2/box/Caixa.aedat": (201_523, 18_491_949),
    "DataSet2/box_cutter/Estilete.aedat": (314_257, 18_378_445),
    "DataSet2/cellphone/Celular.aedat": (307_531, 17_164_914),
    "DataSet2/mech_pencil/Lapiseira.aedat": (126_164, 18_507_653),
    "DataSet2/mouse/Mouse.aedat": (293_096, 18_425_300),
    "DataSet2/mug/Caneca.aedat": (351_217, 20_540_076),
    "DataSet2/scissors/Tesoura.aedat": (143_655, 18_762_697),
}
HEADER_BYTES = 3412
