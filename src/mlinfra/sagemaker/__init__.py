"""What mlinfra knows of SageMaker itself, and nothing of mlinfra: read by the lowering, its
checks and the emulator alike."""
