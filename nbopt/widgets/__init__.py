"""ipywidgets front end: the panel (imported on demand; ``import nbopt`` does not load it)."""
