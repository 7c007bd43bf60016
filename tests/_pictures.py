"""Checks on the pictures the tests make."""

from __future__ import annotations

from PIL import Image


def png_size(path):
    """(width, height) of a picture file that exists and is not empty."""
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as im:
        return im.size
