"""CycleGAN with the mask loss and mask overlay of Nasrullah (2018)."""
