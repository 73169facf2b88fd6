"""Privacy: erasure, access export, retention and consent, across every store pvideo writes."""
