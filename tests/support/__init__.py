"""What several test folders share: the headless-browser fixture."""
