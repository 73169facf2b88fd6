"""Render work: campaigns (one submit function), claims, fan-out, the pipeline, on-demand renders,
notifications and webhooks, the manifest of personal links, validation."""
