"""podium.protocol"""
