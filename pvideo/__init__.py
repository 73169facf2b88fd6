"""pvideo: personalized video from scene scripts, rendered with ffmpeg, tracked openly."""

__version__ = "0.1.0"
