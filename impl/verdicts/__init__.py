"""The reports' claims decided: the arms a scorecard trains (plan), the runs measured for them (measuring), a claim's
measurement read from a run folder (readings, reductions), decided over seeds (decide, stats), and written with its
evidence (scorecard, evidence)."""
