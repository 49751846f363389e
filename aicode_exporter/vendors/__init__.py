"""One sub-package per vendor, each exporting `VENDOR`; registry.py discovers them. This
file imports nothing, so a vendor module can be imported on its own."""
