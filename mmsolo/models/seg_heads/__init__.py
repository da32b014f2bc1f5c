from .solov2_semantic_head import SOLOv2SemanticHead

__all__ = ['SOLOv2SemanticHead']
