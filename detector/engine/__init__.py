"""The stages that run a model: train, score, evaluate, ablate, predict (inference) and export."""
