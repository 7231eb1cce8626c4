"""sunprep: SUN RGB-D (Kinect v2) in the shape of Cityscapes."""

__version__ = "0.1.0"
