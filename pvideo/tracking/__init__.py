"""What viewers did: events and their group commit, rollups, watched intervals, analytics,
export, the dashboard's overview and charts, device classes."""
