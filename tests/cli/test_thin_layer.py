"""The command line is a thin layer: it decodes no event file and loads no checkpoint itself."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_event_file_decoding_or_checkpoint_loading_in_the_cli():
    """The command line calls eventsnn.io / eventsnn.checkpoints; it decodes nothing itself."""
    for path in sorted((REPO / "eventsnn" / "cli").glob("*.py")):
        text = path.read_text()
        for call in ("np.load(", "np.fromfile(", "torch.load(", "read_mnist_file", "aedat.Decoder", "tonic.io"):
            assert call not in text, f"{path.name} calls {call}"
