"""The pvideo HTTP API: campaigns, landing pages, events and analytics."""
