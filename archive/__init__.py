"""The HDF5 archive of evaluated candidates (DESIGN.md §5).

Only the package boundary exists so far; its contents arrive with the archive issue.
"""
