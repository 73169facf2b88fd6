"""What viewers did: events and their group commit, rollups, watched intervals, analytics,
export, the studio's campaign overview and charts, device classes."""
