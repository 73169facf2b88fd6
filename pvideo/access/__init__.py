"""Who may do what: signed viewer tokens and their revocation, API keys, studio sign-in,
rate limits."""
