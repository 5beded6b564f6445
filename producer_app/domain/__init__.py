"""Pure domain: the Order aggregate and the events it raises. No I/O, no frameworks."""
