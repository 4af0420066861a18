"""Classical shallow-DoF rendering: kernels, mattes, progressive and lens blur. No learning."""
