"""Measuring generated images: the feature networks and their caches (features), the real side (reference), the
scores (metrics), the shipped FashionMNIST classifier (classifier), a run evaluated into metrics.json (evaluation),
report 004's latent probe (probe), and images drawn from a run (sampling)."""
