"""Vendor adapters behind the kernel's seams: alert sources and read-only tools."""
