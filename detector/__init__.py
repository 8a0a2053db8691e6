"""detector: train, evaluate and stress-test spectrogram CNN audio deepfake detectors.

Raw audio is decoded once into a waveform cache; laundering (noise, reverb, resampling, ...)
and the log-mel front-end run batched on the device inside the training and evaluation loops,
so no spectrogram ever touches the disk.
"""
__version__ = "0.1.0"


def load_detector(checkpoint, **options):
    """Load a trained checkpoint for inference; see :func:`detector.engine.inference.load_detector`."""
    from detector.engine.inference import load_detector as load  # keep ``import detector`` light

    return load(checkpoint, **options)


__all__ = ["load_detector", "__version__"]
