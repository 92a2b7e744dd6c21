"""The run folder: RunFolder names every file and is the one reader and writer of them (folder); what config.json
records (record); checkpoints (checkpoint); the epoch-end writer (writer); grids (grids); values and images of an
untrusted folder made safe to show (untrusted)."""
