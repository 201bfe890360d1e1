"""Packaged rate cards, one TOML file per partner (file name = card id)."""
