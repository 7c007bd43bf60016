"""Deprecated: NIR export moved to :mod:`eventsnn.export.nir` (``from eventsnn.export import
export_nir``). This module re-exports it for one release and warns on import."""

from __future__ import annotations

import warnings

from eventsnn.export.nir import SOFT_RESET_OPTIONS, NIRExportError, export_nir

__all__ = ["NIRExportError", "export_nir", "SOFT_RESET_OPTIONS"]

warnings.warn("eventsnn.export_nir is deprecated; use eventsnn.export (eventsnn.export.nir)",
              DeprecationWarning, stacklevel=2)
