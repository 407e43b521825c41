"""actionrec: recognise human actions in video with a frozen CNN and a stacked LSTM."""

__version__ = "0.1.0"
