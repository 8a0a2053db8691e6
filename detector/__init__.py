"""detector: train, evaluate and stress-test spectrogram CNN audio deepfake detectors.

Raw audio is decoded once into a waveform cache; laundering (noise, reverb, resampling, ...)
and the log-mel front-end run batched on the device inside the training and evaluation loops,
so no spectrogram ever touches the disk.
"""
__version__ = "0.1.0"
