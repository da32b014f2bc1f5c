from .local_visualizer import PanopticDetLocalVisualizer

__all__ = ['PanopticDetLocalVisualizer']
