"""Dramatiq workers: thin actors that load, compile, render and store one customer."""
