"""Node graphs against a server's catalog: schemas from ``/object_info``, validation.

:class:`Catalog` reads ``/object_info``; :func:`validate_graph` reports every problem of
an API-format graph in one pass; :func:`load_catalog` fetches the catalog and the model
lists live, or from the snapshot cached at the last successful fetch.
"""

from __future__ import annotations

from .catalog_source import (
    CatalogResult,
    fetch_catalog,
    fetch_models,
    load_catalog,
    load_snapshot,
    save_snapshot,
)
from .schema import Catalog, InputSpec, NodeSchema
from .validate import Problem, validate_graph

__all__ = [
    "Catalog",
    "CatalogResult",
    "InputSpec",
    "NodeSchema",
    "Problem",
    "fetch_catalog",
    "fetch_models",
    "load_catalog",
    "load_snapshot",
    "save_snapshot",
    "validate_graph",
]
