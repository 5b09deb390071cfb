"""Tests of comfycine.notify."""
