"""Tools that drive the app from outside (not part of the importable `vitdemo` package)."""
