"""Who may do what: signed viewer tokens and their revocation, API keys, dashboard sign-in,
rate limits."""
