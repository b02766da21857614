"""Qt-free inference side of the trained models: checkpoints, device, preprocessing, and the inference
adapters the engine and the evaluators load (no trainer code)."""
