"""Takes: variants, previews, the recipe inside every file, retakes, picks and review."""
