from .solov2_head import SOLOv2Head

__all__ = ['SOLOv2Head']
