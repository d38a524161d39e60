"""Engines turn one frame's parameters (and the previous frame) into pixels; one module per kind."""
