"""Released model weights (installed as ``noiseaug.weights``): one folder per model with
``model.safetensors``, ``config.json`` and a model card ``README.md``."""
