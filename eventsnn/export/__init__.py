"""Export trained networks to other formats: :mod:`eventsnn.export.nir` (NIR, the
Neuromorphic Intermediate Representation)."""

from eventsnn.export.nir import NIRExportError, export_nir

__all__ = ["NIRExportError", "export_nir"]
