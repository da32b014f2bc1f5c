"""Version of mmsolo."""

__version__ = '0.1.0'


def parse_version_info(version_str: str) -> tuple:
    """Turn ``'0.1.0'`` into ``(0, 1, 0)``; a suffix such as ``rc1`` is
    kept."""
    parts = []
    for item in version_str.split('.'):
        parts.append(int(item) if item.isdigit() else item)
    return tuple(parts)


version_info = parse_version_info(__version__)
