"""Takes: variants, previews, the recipe inside every file, retakes, picks and review.

Previews (what an agent or a phone looks at instead of a video)::

    previews.py   poster_frame, contact_sheet, thumbnail, previews_for (+ the grid's names)
    grid.py       sweep_grid / grid_layout: one labelled grid of a sweep's takes
    video.py      open_clip: video read with PyAV, only the wanted frames decoded
    media.py      clip info, WebP animations and stills (Pillow), the poster's choice
    canvas.py     fonts at a pixel size, fitted text, atomic picture writes

The recipe (``recipe.py``) and the review page (``review.py``) live here too.
"""
