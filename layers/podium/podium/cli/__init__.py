"""podium.cli"""
