"""Performance benchmarks: redline against its peers on the same work (see DESIGN.md)."""

__all__: list[str] = []
