from .grid_assigner import CenterRegionGridAssigner, GridTargets

__all__ = ['CenterRegionGridAssigner', 'GridTargets']
