"""Training the networks the renderer ships (pix2pix for the ``translate`` kind)."""
