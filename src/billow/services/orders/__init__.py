"""Orders: placing, accepting, cancelling, fraud checks."""
