"""openhands_driver: skills-first SRE agent runner (keep this import-light: no SDK imports here)."""
