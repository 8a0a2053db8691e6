"""The detector network (front-end + ResNet-18) and its checkpoints."""
