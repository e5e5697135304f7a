"""String tables, one module per feature, each with `EN` and `ZH` dicts of the same keys (see ../i18n.py)."""
