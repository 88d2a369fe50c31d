"""podium.protocol: the agent file — its models, loading with locations, validation, JSON
Schema, and compilation into the run state machine."""

AGENT_FILE = "agent.yaml"
"""The file that makes a folder an agent."""
