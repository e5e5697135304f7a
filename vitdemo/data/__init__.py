"""Data: the synthetic `shapes` set (with exact object masks) and image folders (one sub-folder per class)."""
