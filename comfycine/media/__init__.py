"""The media layer of a conform: probe, pull, fit, deliver and check video with PyAV.

Every module here imports ``av`` inside its functions (the CLI starts without it), and
none writes over an existing file: results go to a ``.part`` name and are published
under a free name (:mod:`.output`).

- :mod:`.probe`: what a video is (exact rate, frame count, start timecode).
- :mod:`.pull`: a source's frame range cut into an H.264 file a template loads.
- :mod:`.scan`: one decoding pass finding black and frozen stretches.
- :mod:`.fit`: how a render is made to match its source clip's rate and length.
- :mod:`.deliver`: the fitted render encoded as ProRes, DNxHR, PNG or H.264, timecoded.
- :mod:`.qc`: the delivered file checked against its clip; the QC report file.
"""
