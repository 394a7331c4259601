"""Dashboards, panels, layout, the live event feed and the WebSocket consumer for panels."""
