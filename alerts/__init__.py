"""Alert rules, their evaluation and state machine, history, silences and notifications."""
