"""iflearn: learn how the DeepFloyd IF cascade works by running it."""
