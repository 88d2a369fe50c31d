"""podium.observe: spans, redaction, usage rollups and exports."""
