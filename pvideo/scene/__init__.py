"""The scene language: the spec (pydantic), customer rows, sandboxed Jinja, data filters, link checks.

Everything here is validated once at the edge (API, CLI); nothing past it indexes raw dicts.
"""
