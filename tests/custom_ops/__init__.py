"""Operators the custom-operator tests define: factories by module, by file and by entry point."""
