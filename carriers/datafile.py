"""customs.datafile's reader under its old name, for service/, which still imports it from here."""

from customs.datafile import DataFileError, DataTable, read_toml

__all__ = ["DataFileError", "DataTable", "read_toml"]
