"""The scene language: the spec and its layers (pydantic), ``when`` conditions, customer rows, sandboxed Jinja,
data filters, link checks.

Everything here is validated once at the edge (API, CLI); nothing past it indexes raw dicts.
"""
