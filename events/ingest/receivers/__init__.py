"""Receivers for protocols people already run (InfluxDB line protocol, …): each maps its wire
format onto the same items, limits, key and write path as the platform's own API."""
