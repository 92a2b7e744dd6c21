"""Training one run: the request resolved into settings (request, settings, overrides), the loss families (losses), the
networks and optimizers (networks), the batches (batches), the steps (trainer), the CUDA fast path (fastpath), the
loop with its logging and signals (loop), TensorBoard (tensorboard), and run_experiment start to end (run)."""
