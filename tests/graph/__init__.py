"""Tests of comfycine.graph."""
