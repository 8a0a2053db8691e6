"""What a run's scores say: detection metrics, calibration, text reports and plots."""
