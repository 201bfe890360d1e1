"""Packaged data files; see the README beside them."""
