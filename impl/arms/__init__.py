"""Several arms trained into one output folder: the engine (plan, train or resume, evaluate; one lock, saved
arguments, resume as data) shared by the studies (study) and the scorecard."""
