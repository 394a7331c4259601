"""Report definitions, schedules, runs, exports and e-mail delivery."""
