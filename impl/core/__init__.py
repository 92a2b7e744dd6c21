"""What every command and package shares: typed errors and exit codes, the command line, progress, and
safe files."""
