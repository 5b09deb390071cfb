"""Editor timelines for ``conform``: read one, choose its clips, write it back.

Reading and writing go through OpenTimelineIO and its adapters from PyPI
(``fcpx_xml`` for Final Cut Pro X, ``fcp_xml`` for FCP7/Resolve XML, ``cmx_3600`` for
EDLs, the built-in ``otio_json``), with fixes for what those adapters round or drop
(see :mod:`.fcpxml`). Modules:

- :mod:`.formats`: :func:`~.formats.read_timeline` → :class:`~.formats.TimelineDoc`;
- :mod:`.shots`: :func:`~.shots.list_shots`, every video clip as a
  :class:`comfycine.conform.shots.Shot`, media relinked by name;
- :mod:`.selection`: :class:`~.selection.Selection`, :func:`~.selection.select`;
- :mod:`.writeback`: :func:`~.writeback.write_back`, the timeline again in its own
  format with the rendered clips on a new track above their originals.

This package imports nothing heavy at import time: ``opentimelineio`` is imported
inside the functions that need it, so ``comfycine --help`` stays fast.
"""
